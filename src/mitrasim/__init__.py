"""mitrasim: simulate mitral regurgitation and its repair by transcatheter edge-to-edge repair.

Research and education only: not a medical device.
"""

__version__ = "0.3.0"

DISCLAIMER = (
    "mitrasim is a research and education tool, not a medical device: its results are model "
    "predictions, not a diagnosis or a treatment recommendation for any person."
)


def __getattr__(name: str):
    # Lazy: ``import mitrasim`` stays light (the command line starts fast); the engine loads on use.
    if name == "simulate":
        from mitrasim.physiology.simulation import simulate

        return simulate
    if name == "SolverSettings":
        from mitrasim.physiology.simulation import SolverSettings

        return SolverSettings
    raise AttributeError(f"module 'mitrasim' has no attribute {name!r}")
