//! "Did you mean ...?": the closest known name to a misspelt one.

/// Levenshtein distance over chars, with a small-string fast path: config words are short.
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest candidate if it is plausibly what was meant: within a third of the word's length
/// (at least 2 edits), or one name containing the other (`host_haproxy_stats` -> `stats`).
pub fn closest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    if word.chars().count() > 200 {
        return None;
    }
    let lower = word.to_ascii_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for cand in candidates {
        if cand.is_empty() || cand == word {
            continue;
        }
        let c = cand.to_ascii_lowercase();
        let d = distance(&lower, &c);
        let limit = (lower.chars().count().max(c.chars().count()) / 3).max(2);
        let contains = c.len() >= 3 && (lower.contains(&c) || c.contains(&lower));
        // Containment is a weaker hint than a close spelling: rank it just behind.
        let d = match (d <= limit, contains) {
            (true, _) => d,
            (false, true) => limit + 1,
            (false, false) => continue,
        };
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, cand));
        }
    }
    best.map(|(_, c)| c)
}

/// "; did you mean 'x'?" or nothing, ready to append to a message.
pub fn hint<'a, I>(word: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    match closest(word, candidates) {
        Some(c) => format!("; did you mean '{c}'?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("use-backend", "use_backend"), 1);
    }

    #[test]
    fn picks_closest() {
        assert_eq!(
            closest("use-backend", ["use_backend", "default_backend"]),
            Some("use_backend")
        );
        assert_eq!(
            closest("host_haproxy_stats", ["stats", "host_api_cluster"]),
            Some("stats")
        );
        assert_eq!(
            closest("haproxy_stats", ["stats", "test_server"]),
            Some("stats")
        );
        assert_eq!(closest("zzzz", ["balance"]), None);
    }
}
