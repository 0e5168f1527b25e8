"""Helpers the metacognition suite's slices share (not an experiment): the prompts, the
probe of an item's answer and self-reports, the item frame and its statistics, the wording
of scorecard sentences and the ``[params]`` table."""
