//! HTTP Basic credentials checked against a `userlist`.

use base64::Engine;
use sha_crypt::{PasswordVerifier, ShaCrypt};

use crate::config::model_rules::{Password, User, Userlist};
use crate::http::edit::HeaderLines;

/// The user whose name and password the request's `Authorization: Basic` header carries.
pub fn check<'u>(list: &'u Userlist, mut lines: HeaderLines) -> Option<&'u User> {
    let (_, value) = lines.find(|(n, _)| n.eq_ignore_ascii_case(b"authorization"))?;
    let (scheme, cred) = split_once(value.trim_ascii(), b' ')?;
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(cred.trim_ascii())
        .ok()?;
    let (name, pass) = split_once(&decoded, b':')?;
    let user = list.users.iter().find(|u| u.name.as_bytes() == name)?;
    password_ok(&user.password, pass).then_some(user)
}

fn split_once(v: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = v.iter().position(|&b| b == sep)?;
    Some((&v[..i], &v[i + 1..]))
}

fn password_ok(p: &Password, given: &[u8]) -> bool {
    match p {
        Password::Insecure(s) => s.as_bytes() == given,
        Password::Crypt(hash) => ShaCrypt::default()
            .verify_password(given, hash.as_str())
            .is_ok(),
    }
}

/// Whether `user` belongs to a group named in `groups`.
pub fn in_groups(list: &Userlist, user: &[u8], groups: &[String]) -> bool {
    let Some(u) = list.users.iter().find(|u| u.name.as_bytes() == user) else {
        return false;
    };
    u.groups
        .iter()
        .filter_map(|g| list.groups.get(*g))
        .any(|g| groups.iter().any(|want| want == g))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha512_crypt_verifies() {
        // openssl passwd -6 -salt saltsalt secret
        let h = "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";
        assert!(password_ok(&Password::Crypt(h.into()), b"secret"));
        assert!(!password_ok(&Password::Crypt(h.into()), b"wrong"));
        assert!(password_ok(&Password::Insecure("x".into()), b"x"));
        // openssl passwd -5 -salt saltsalt secret
        let h5 = "$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA";
        assert!(password_ok(&Password::Crypt(h5.into()), b"secret"));
    }
}
