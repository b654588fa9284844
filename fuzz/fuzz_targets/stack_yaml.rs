//! stack.yaml loader + validator on arbitrary bytes: no panic, no hang, and every finding is one
//! line that names a position or the file (never a Rust type name).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = foundry::config::text::decode(data) else {
        return;
    };
    let checked = foundry::config::check::check_str(Path::new("stack.yaml"), text);
    for f in &checked.findings {
        let line = f.render("stack.yaml");
        assert!(!line.contains('\n'), "finding spans lines: {line:?}");
        // A name the file itself does not contain can only come from foundry. Quoted values
        // (between backticks) are the file's own text, shown with whitespace folded (so
        // "struct\nx" reads "struct x"): only foundry's words around them are checked.
        let own: String = f
            .message
            .split('`')
            .step_by(2)
            .collect::<Vec<_>>()
            .join(" ");
        for rust in ["struct ", "u16", "u128", "field identifier", "usize"] {
            assert!(
                !own.contains(rust) || text.contains(rust),
                "Rust type name in {line:?}"
            );
        }
    }
    // The first-error path must agree: an error-free check loads.
    if checked.errors == 0 {
        foundry::config::load::load_str(Path::new("stack.yaml"), text)
            .expect("check found no error");
    }
});
