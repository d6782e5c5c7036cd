//! `curves`/`ecdhe` (and `ssl-default-bind-curves`): OpenSSL's colon-separated curve names
//! mapped onto rustls' key exchange groups. As with cipher lists, names rustls lacks (P-521,
//! X448, the ffdhe groups) are dropped with a warning naming the groups that remain; a list
//! that leaves none is an error listing the ones rustls has.

use rustls::crypto::aws_lc_rs::kx_group;
use rustls::crypto::SupportedKxGroup;

/// OpenSSL's names for each group rustls offers.
const GROUPS: [(&[&str], &dyn SupportedKxGroup); 5] = [
    (&["X25519", "x25519"], kx_group::X25519),
    (&["P-256", "prime256v1", "secp256r1"], kx_group::SECP256R1),
    (&["P-384", "secp384r1"], kx_group::SECP384R1),
    (&["X25519MLKEM768"], kx_group::X25519MLKEM768),
    (
        &["SecP256r1MLKEM768", "SECP256R1MLKEM768"],
        kx_group::SECP256R1MLKEM768,
    ),
];

/// Groups in preference order, and a warning about names dropped.
pub type Groups = (Vec<&'static dyn SupportedKxGroup>, Option<String>);

/// `None` keeps rustls' defaults (`Ok` with an empty list means "unchanged").
pub fn resolve(list: Option<&str>) -> Result<Groups, String> {
    let Some(list) = list else {
        return Ok((Vec::new(), None));
    };
    let mut chosen: Vec<&'static dyn SupportedKxGroup> = Vec::new();
    let mut unmatched = Vec::new();
    for name in list.split(':').filter(|n| !n.is_empty()) {
        match GROUPS.iter().find(|g| g.0.contains(&name)) {
            Some(g) if !chosen.iter().any(|c| c.name() == g.1.name()) => chosen.push(g.1),
            Some(_) => {}
            None => unmatched.push(name),
        }
    }
    if chosen.is_empty() {
        let known: Vec<&str> = GROUPS.iter().map(|g| g.0[0]).collect();
        return Err(format!(
            "'curves {list}' leaves no group rustls offers; it has {}",
            known.join(":")
        ));
    }
    let warning = (!unmatched.is_empty()).then(|| {
        let kept: Vec<String> = chosen.iter().map(|g| format!("{:?}", g.name())).collect();
        format!(
            "'curves': {} not offered by rustls and ignored; using {}",
            unmatched.join(", "),
            kept.join(", ")
        )
    });
    Ok((chosen, warning))
}
