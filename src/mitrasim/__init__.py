"""mitrasim: simulate mitral regurgitation and its repair by transcatheter edge-to-edge repair.

Research and education only: not a medical device.
"""

__version__ = "0.8.0"

from mitrasim.disclaimer import DISCLAIMER  # noqa: F401  (its own module: importing it loads nothing else)


def __getattr__(name: str):
    # Lazy: ``import mitrasim`` stays light (the command line starts fast); the engine loads on use.
    if name == "simulate":
        from mitrasim.physiology.simulation import simulate

        return simulate
    if name == "SolverSettings":
        from mitrasim.physiology.simulation import SolverSettings

        return SolverSettings
    raise AttributeError(f"module 'mitrasim' has no attribute {name!r}")
