//! Track-quality metrics (to come).
