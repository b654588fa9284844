//! What foundry writes for K3s. The K3s component itself comes later; these renderers are pure
//! and shared with the components that feed them (Zot).

pub mod registries;
