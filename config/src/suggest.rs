//! "Did you mean …?": the valid words closest to a misspelt one.
//!
//! In this order, on lower-cased text:
//!
//! 1. A candidate **one edit** away (Damerau-Levenshtein: an insertion, deletion,
//!    substitution or swap of two neighbouring characters counts 1, so `mac-tabel-size` is
//!    1 from `mac-table-size`).
//! 2. Else the candidates that have the word as one of their `-` parts (`port` → `src-port`
//!    or `dst-port`): a field written without its qualifier.
//! 3. Else a candidate [`MAX_EDITS`] edits away.
//!
//! Short words need a closer match: at most (longer length + 1) / 3 edits, rounded down,
//! so 1 edit for words of 2 to 4 characters and 2 from 5 (`h3` → `h1` is suggested, `ab`
//! → `xy` and `x` → `y` are not). Equally close candidates are all suggested (at most
//! [`MAX_SUGGESTIONS`], in the caller's order: the order the file or the docs list them),
//! `lan-c` → `lan-a` or `lan-b`. rustc and cargo suggest unknown names the same way (an
//! edit distance with a bound).

/// Most edits between a word and a suggestion.
pub(crate) const MAX_EDITS: usize = 2;

/// Most words suggested at once.
pub(crate) const MAX_SUGGESTIONS: usize = 3;

/// Longest word compared (the distance is quadratic; nobody misspells 64 characters).
const MAX_WORD_CHARS: usize = 64;

/// The candidates closest to `word` (see the module doc): one, several (rule 2) or none.
/// `word` itself is never suggested.
pub(crate) fn closest<'a, I>(word: &str, candidates: I) -> Vec<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let w = word.to_lowercase();
    if w.is_empty() || w.chars().count() > MAX_WORD_CHARS {
        return Vec::new();
    }
    let candidates: Vec<&str> = candidates.into_iter().filter(|c| *c != word).collect();
    // (distance, candidates at that distance)
    let mut best: (usize, Vec<String>) = (MAX_EDITS + 1, Vec::new());
    for &c in &candidates {
        let lc = c.to_lowercase();
        let d = strsim::damerau_levenshtein(&w, &lc);
        let longer = w.chars().count().max(lc.chars().count());
        if d > MAX_EDITS || d > (longer + 1) / 3 || d > best.0 {
            continue;
        }
        if d < best.0 {
            best = (d, Vec::new());
        }
        if best.1.len() < MAX_SUGGESTIONS {
            best.1.push(c.to_owned());
        }
    }
    if best.0 == 1 {
        return best.1;
    }
    let parts: Vec<String> = candidates
        .iter()
        .filter(|c| c.contains('-') && c.to_lowercase().split('-').any(|p| p == w))
        .take(MAX_SUGGESTIONS)
        .map(|c| (*c).to_owned())
        .collect();
    if !parts.is_empty() {
        return parts;
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: [&str; 3] = ["mac-table-size", "ageing", "ports"];

    fn one(w: &str) -> Vec<String> {
        vec![w.to_owned()]
    }

    #[test]
    fn a_swap_an_omission_and_a_case_slip_are_found() {
        assert_eq!(closest("mac-tabel-size", FIELDS), one("mac-table-size"));
        assert_eq!(closest("aging", FIELDS), one("ageing"));
        assert_eq!(closest("Ports", FIELDS), one("ports"));
        assert_eq!(closest("swich", ["host", "switch"]), one("switch"));
    }

    #[test]
    fn a_word_without_its_qualifier_gets_every_qualified_field() {
        let rule = [
            "action",
            "src",
            "dst",
            "proto",
            "src-port",
            "dst-port",
            "icmp-type",
        ];
        assert_eq!(closest("port", rule), vec!["src-port", "dst-port"]);
        assert_eq!(closest("src_port", rule), one("src-port"));
        assert_eq!(closest("dst-prt", rule), one("dst-port"));
        assert_eq!(closest("prot", rule), one("proto"), "1 edit wins");
    }

    #[test]
    fn far_or_short_words_get_no_suggestion() {
        assert!(closest("vlan", FIELDS).is_empty());
        assert!(closest("ab", ["xy"]).is_empty());
        assert!(closest("x", ["y"]).is_empty());
        assert_eq!(closest("h3", ["h1", "sw1"]), one("h1"));
        assert!(
            closest("ports", FIELDS).is_empty(),
            "itself is not a suggestion"
        );
        assert!(closest(&"a".repeat(1000), ["a"]).is_empty());
        assert!(closest("", ["a"]).is_empty());
    }

    #[test]
    fn ties_are_all_suggested_in_the_callers_order() {
        assert_eq!(closest("h3", ["h2", "h1", "sw1"]), vec!["h2", "h1"]);
        assert_eq!(
            closest("h9", ["h1", "h2", "h3", "h4"]),
            vec!["h1", "h2", "h3"]
        );
        assert_eq!(
            closest("lan-c", ["lan-a", "lan-b", "lan"]),
            vec!["lan-a", "lan-b"]
        );
    }
}
