"""The one sentence every output of mitrasim carries (its own module, so that importing it loads nothing else)."""

DISCLAIMER = (
    "mitrasim is a research and education tool, not a medical device: its results are model "
    "predictions, not a diagnosis or a treatment recommendation for any person."
)
