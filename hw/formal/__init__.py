"""Formal properties of the engine: bus monitors, the platform that collects what the
components state, and the engine as a proof sees it (:mod:`hw.formal.engine`)."""
