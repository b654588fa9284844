//! Component trait, registry, dependency order, plan/apply engine.
