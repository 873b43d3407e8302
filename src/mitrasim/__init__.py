"""mitrasim: simulate mitral regurgitation and its repair by transcatheter edge-to-edge repair.

Research and education only: not a medical device.
"""

__version__ = "0.1.0"

DISCLAIMER = (
    "mitrasim is a research and education tool, not a medical device: its results are model "
    "predictions, not a diagnosis or a treatment recommendation for any person."
)
