//! The JWT-claims reader: any text gives claims or `None`s, never a panic.
#![no_main]

use airelays::auth::claims;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = claims::payload(&text);
    let c = claims::id_claims(&text);
    if let Some(plan) = &c.plan {
        assert_eq!(plan, &plan.to_ascii_lowercase());
    }
    let _ = claims::expiry(&text);
});
