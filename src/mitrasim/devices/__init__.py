"""TEER devices: catalogue (dimensions, sources), grasp feasibility, SLDA risk, device choice."""

from mitrasim.devices.catalogue import DEFAULT_CATALOGUE, Device, device_arrays, get_device, load_catalogue, max_grasp_reach_mm
from mitrasim.devices.grasp import DeviceChoice, GraspAssessment, GraspNumbers, assess_grasp, choose_device, grasp_at

__all__ = [
    "Device",
    "DEFAULT_CATALOGUE",
    "load_catalogue",
    "get_device",
    "device_arrays",
    "max_grasp_reach_mm",
    "GraspAssessment",
    "assess_grasp",
    "grasp_at",
    "GraspNumbers",
    "DeviceChoice",
    "choose_device",
]
