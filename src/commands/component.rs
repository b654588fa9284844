use crate::cli::{GlobalOpts, ComponentCmd};

pub async fn run(_g: &GlobalOpts, _cmd: ComponentCmd) -> anyhow::Result<i32> {
    anyhow::bail!("not implemented yet")
}
