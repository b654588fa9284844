//! In-place edits of stack.yaml that keep every other byte (comments, order, formatting):
//! `config set`, and host add/remove for `foundry host`. Each edit splices text at spans found
//! through the positioned tree, then re-parses the result and checks that exactly the intended
//! change happened; anything else is refused rather than written.

mod hosts;
mod render;
mod set;
mod text;
mod value;
mod write;

pub use hosts::{append_host, remove_host};
pub use render::{render_input, yaml_string};
pub use set::set_value;
pub use value::{value_at, ValueMiss};
pub use write::{save_edited, write_atomic};
