"""LoRA fine-tuning on forced-choice demonstrations, and adapters saved beside a run.

* :mod:`.settings` (torch-free): the hyperparameters, one training example (a templated
  prompt and the answer token it should produce) and the data hash;
* :mod:`.lora` (torch, peft): the training loop: loss on the answer token only, seeded,
  timed by itself;
* :mod:`.adapters` (torch, peft): ``<run_dir>/adapters/<name>/`` with a metadata JSON,
  written to a temporary directory and renamed (a half-written adapter never looks
  complete); resuming reuses an adapter whose metadata matches and refuses one that does
  not; :func:`~.adapters.load_adapted` merges an adapter into a fresh copy of the base
  weights as a new :class:`~introscope.core.models.LoadedModel` (its own engine, its own
  prefix cache).

The train-time arm of the evaluation-framing suite (``experiments/eval_training``) is the
user; the modules know nothing about arms or items.
"""
