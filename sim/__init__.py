"""Simulation harness: memory model, AXI4 slave model, and the pysim/Icarus backends."""
