//! Per-article linking: turns tagged mentions into canonical entities. Strips honorifics and job
//! titles and possessives, resolves aliases and demonyms through the gazetteer tables ("U.S." →
//! United States; "North Korean", tagged MISC as in CoNLL, → North Korea as a location), resolves
//! partial person names to the full name used elsewhere in the article ("Putin" → "Vladimir
//! Putin"), acronyms and name prefixes of organisations, and computes mention counts, first
//! offsets and salience. Phases: [`work_items`], [`table_links`], [`person_names`],
//! [`resolve`], [`group`], [`entities`].

use std::collections::HashMap;

use crate::model::{Entity, EntityKind, fold_key};

use super::Mention;
use super::gazetteer::Gazetteer;
use super::tokenize::Token;

/// A tagged span before linking.
#[derive(Debug, Clone)]
pub struct RawMention {
    pub tokens: Vec<Token>,
    pub kind: EntityKind,
}

const SMALL: &[&str] = &["of", "the", "and", "for", "on", "in", "de", "&", "at"];

/// One mention being linked.
struct Work {
    start: usize,
    end: usize,
    surface: String,
    /// The name without titles and possessives.
    core: String,
    keys: Vec<String>,
    kind: EntityKind,
    /// Canonical (name, kind) from the alias or demonym tables.
    canon: Option<(String, EntityKind)>,
}

fn is_possessive(s: &str) -> bool {
    matches!(
        s,
        "'s" | "\u{2019}s" | "'" | "\u{2019}" | "'S" | "\u{2019}S"
    )
}

fn all_caps(s: &str) -> bool {
    s.chars().any(char::is_alphabetic) && !s.chars().any(char::is_lowercase)
}

/// Folded key of one token: ASCII words without allocation-heavy normalisation.
fn token_fold(s: &str) -> String {
    if s.is_ascii() && !s.contains([' ', '_', '`']) {
        s.bytes()
            .filter(|&b| b != b'.')
            .map(|b| b.to_ascii_lowercase() as char)
            .collect()
    } else {
        fold_key(s)
    }
}

fn nice_case(s: &str) -> String {
    // "PUTIN" from a headline → "Putin"; keep short acronyms as they are.
    if !all_caps(s) || s.chars().filter(|c| c.is_alphabetic()).count() <= 4 {
        return s.to_string();
    }
    s.split(' ')
        .map(|w| {
            if w.chars().filter(|c| c.is_alphabetic()).count() <= 3 {
                return w.to_string();
            }
            let mut cs = w.chars();
            match cs.next() {
                Some(f) => f
                    .to_uppercase()
                    .chain(cs.flat_map(char::to_lowercase))
                    .collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn contains_seq(hay: &[String], needle: &[String]) -> bool {
    needle.len() < hay.len() && hay.windows(needle.len()).any(|w| w == needle)
}

fn initials(keys: &[String]) -> String {
    keys.iter()
        .filter(|k| !SMALL.contains(&k.as_str()))
        .filter_map(|k| k.chars().next())
        .collect()
}

/// Number of leading tokens of a person mention that are honorifics or job titles (anywhere
/// before the name: "US President Barack Obama"), 0 if stripping would leave no capitalised name.
fn title_strip(text: &str, toks: &[Token], keys: &[String], gaz: &Gazetteer) -> usize {
    let mut strip = 0;
    for j in 0..toks.len() {
        let len = gaz.title_prefix_len(&keys[j..]);
        if len > 0 && j + len < toks.len() {
            strip = j + len;
        }
    }
    while strip < toks.len() - 1 && !toks[strip].text(text).starts_with(char::is_alphanumeric) {
        strip += 1;
    }
    if toks[strip].text(text).starts_with(char::is_uppercase) {
        strip
    } else {
        0
    }
}

/// Phase 1: the mentions with titles and possessives stripped.
fn work_items(text: &str, raw: &[RawMention], gaz: &Gazetteer) -> Vec<Work> {
    let mut work = Vec::with_capacity(raw.len());
    for m in raw.iter().filter(|m| !m.tokens.is_empty()) {
        let keys_all: Vec<String> = m.tokens.iter().map(|t| token_fold(t.text(text))).collect();
        let strip = if m.kind == EntityKind::Person {
            title_strip(text, &m.tokens, &keys_all, gaz)
        } else {
            0
        };
        let mut toks: &[Token] = &m.tokens[strip..];
        while toks.len() > 1 && is_possessive(toks[toks.len() - 1].text(text)) {
            toks = &toks[..toks.len() - 1];
        }
        let (s, e) = (toks[0].start, toks[toks.len() - 1].end);
        let core = text[s..e].split_whitespace().collect::<Vec<_>>().join(" ");
        let (start, end) = (m.tokens[0].start, m.tokens[m.tokens.len() - 1].end);
        work.push(Work {
            start,
            end,
            surface: text[start..end].to_string(),
            core,
            keys: keys_all[strip..strip + toks.len()].to_vec(),
            kind: m.kind,
            canon: None,
        });
    }
    work
}

/// Phase 2: alias tables and demonyms (not for persons).
fn table_links(work: &mut [Work], gaz: &Gazetteer) {
    for w in work.iter_mut().filter(|w| w.kind != EntityKind::Person) {
        let key = fold_key(&w.core.replace(" '", "'").replace(" \u{2019}", "'"));
        if let Some(c) = gaz.alias(&key) {
            w.canon = Some((c.name.clone(), c.kind));
            continue;
        }
        let dem = gaz
            .demonym(&key)
            .or_else(|| key.strip_suffix('s').and_then(|k| gaz.demonym(k)));
        if let Some(c) = dem {
            w.canon = Some((c.name.clone(), c.kind));
        }
    }
}

/// Distinct person names of an article, clustered by extension ("Putin" ⊂ "Vladimir Putin").
struct Persons {
    /// (keys, mentions, representative mention) of each distinct name
    names: Vec<(Vec<String>, u32, usize)>,
    /// distinct name of each person mention
    name_of: HashMap<usize, usize>,
    /// representative mention of the cluster of each distinct name
    owner: Vec<usize>,
}

/// Phase 3: person names and their clusters; each cluster is named by its most frequent
/// multi-word name (then the shorter, then the earlier).
fn person_names(work: &[Work]) -> Persons {
    let mut names: Vec<(Vec<String>, u32, usize)> = Vec::new();
    let mut name_of: HashMap<usize, usize> = HashMap::new();
    for (i, w) in work.iter().enumerate() {
        if w.kind != EntityKind::Person || w.canon.is_some() {
            continue;
        }
        let k = match names.iter().position(|n| n.0 == w.keys) {
            Some(k) => k,
            None => {
                names.push((w.keys.clone(), 0, i));
                names.len() - 1
            }
        };
        names[k].1 += 1;
        if all_caps(&work[names[k].2].core) && !all_caps(&w.core) {
            names[k].2 = i;
        }
        name_of.insert(i, k);
    }
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&a, &b| {
        names[b]
            .0
            .len()
            .cmp(&names[a].0.len())
            .then(names[a].2.cmp(&names[b].2))
    });
    let mut root: Vec<usize> = (0..names.len()).collect();
    let mut ccount: HashMap<usize, u32> = HashMap::new();
    let mut done: Vec<usize> = Vec::new();
    for &a in &order {
        let mut best: Option<usize> = None;
        for &b in &done {
            if !contains_seq(&names[b].0, &names[a].0) {
                continue;
            }
            let r = root[b];
            let better = best.is_none_or(|x| {
                ccount[&r] > ccount[&x] || (ccount[&r] == ccount[&x] && names[r].2 < names[x].2)
            });
            if better {
                best = Some(r);
            }
        }
        root[a] = best.unwrap_or(a);
        *ccount.entry(root[a]).or_insert(0) += names[a].1;
        done.push(a);
    }
    let mut canon_of_root: HashMap<usize, usize> = HashMap::new();
    let score = |x: usize| {
        let n = &names[x];
        (
            n.0.len() >= 2,
            n.1,
            usize::MAX - n.0.len(),
            usize::MAX - n.2,
        )
    };
    for a in 0..names.len() {
        let cur = canon_of_root.get(&root[a]).copied();
        if cur.is_none_or(|c| score(a) > score(c)) {
            canon_of_root.insert(root[a], a);
        }
    }
    let owner = (0..names.len())
        .map(|k| names[canon_of_root[&root[k]]].2)
        .collect();
    Persons {
        names,
        name_of,
        owner,
    }
}

/// The organisation mention a one-word or shorter organisation name refers to: a longer name
/// that starts with it, else one whose initials it is ("UN" → "United Nations").
fn org_target(work: &[Work], orgs: &[usize], keys: &[String]) -> Option<usize> {
    let mut c: Vec<usize> = orgs
        .iter()
        .copied()
        .filter(|&j| work[j].keys.len() > keys.len() && work[j].keys.starts_with(keys))
        .collect();
    if c.is_empty() && keys.len() == 1 && keys[0].len() >= 2 {
        c = orgs
            .iter()
            .copied()
            .filter(|&j| work[j].keys.len() >= 2 && initials(&work[j].keys) == keys[0])
            .collect();
    }
    // longest candidate; ties → earliest
    c.into_iter()
        .max_by(|&a, &b| work[a].keys.len().cmp(&work[b].keys.len()).then(b.cmp(&a)))
}

/// Phase 4: the mention each mention resolves to (persons to their cluster's name,
/// organisations to a longer name or acronym expansion, a lone surname tagged ORG/MISC to the
/// person it names).
fn resolve(work: &[Work], persons: &Persons) -> Vec<Option<usize>> {
    let orgs: Vec<usize> = (0..work.len())
        .filter(|&i| work[i].kind == EntityKind::Organization && work[i].canon.is_none())
        .collect();
    let surname_of_person = |keys: &[String]| {
        persons
            .names
            .iter()
            .enumerate()
            .filter(|(_, n)| n.0.len() > 1 && n.0.last() == keys.last())
            .max_by_key(|(k, n)| (n.1, usize::MAX - k))
            .map(|(k, _)| persons.owner[k])
    };
    (0..work.len())
        .map(|i| {
            let w = &work[i];
            if w.canon.is_some() {
                return None;
            }
            match w.kind {
                EntityKind::Person => persons.name_of.get(&i).map(|&k| persons.owner[k]),
                EntityKind::Organization => org_target(work, &orgs, &w.keys).or_else(|| {
                    (w.keys.len() == 1)
                        .then(|| surname_of_person(&w.keys))
                        .flatten()
                }),
                EntityKind::Misc if w.keys.len() == 1 => surname_of_person(&w.keys),
                _ => None,
            }
        })
        .collect()
}

/// The mentions of one canonical group.
struct Group {
    forms: HashMap<String, u32>,
    table: Option<(String, EntityKind)>,
    kinds: [u32; 4],
    mentions: u32,
    first: usize,
    in_title: bool,
}

const KINDS: [EntityKind; 4] = [
    EntityKind::Person,
    EntityKind::Organization,
    EntityKind::Location,
    EntityKind::Misc,
];

/// Phase 5: groups of mentions by canonical key (table name, resolved mention, own keys), in
/// order of first appearance; returns the group key of each mention too.
fn group(
    work: &[Work],
    resolved: &[Option<usize>],
    title_len: usize,
) -> (Vec<String>, HashMap<String, Group>, Vec<String>) {
    let group_of: Vec<String> = (0..work.len())
        .map(|i| match (&work[i].canon, resolved[i]) {
            (Some((n, _)), _) => fold_key(n),
            (None, Some(j)) => work[j].keys.join(" "),
            (None, None) => work[i].keys.join(" "),
        })
        .collect();
    let mut order: Vec<String> = Vec::new();
    let mut groups: HashMap<String, Group> = HashMap::new();
    for (i, w) in work.iter().enumerate() {
        let g = groups.entry(group_of[i].clone()).or_insert_with(|| {
            order.push(group_of[i].clone());
            Group {
                forms: HashMap::new(),
                table: None,
                kinds: [0; 4],
                mentions: 0,
                first: usize::MAX,
                in_title: false,
            }
        });
        if let Some(c) = &w.canon {
            g.table = Some(c.clone());
        }
        let owner = resolved[i].map(|j| &work[j]).unwrap_or(w);
        *g.forms.entry(owner.core.clone()).or_insert(0) += 1;
        g.kinds[owner.kind as usize] += 1;
        g.mentions += 1;
        g.first = g.first.min(w.start);
        g.in_title |= w.start < title_len;
    }
    (order, groups, group_of)
}

/// Display name and kind of a group: the table's, else its most frequent form (preferring
/// forms not in ALL CAPS, then longer, then lexicographically first) and majority kind.
fn group_name(g: &Group) -> (String, EntityKind) {
    if let Some((n, k)) = &g.table {
        return (n.clone(), *k);
    }
    let mut forms: Vec<(&String, &u32)> = g.forms.iter().collect();
    forms.sort_by(|a, b| {
        all_caps(a.0)
            .cmp(&all_caps(b.0))
            .then(b.1.cmp(a.1))
            .then(b.0.len().cmp(&a.0.len()))
            .then(a.0.cmp(b.0))
    });
    let mut best = 0;
    for k in 1..4 {
        if g.kinds[k] > g.kinds[best] {
            best = k;
        }
    }
    (nice_case(forms[0].0), KINDS[best])
}

/// Phase 6: entities with salience (log(1+mentions) + 1.5·in_title + 0.5·earliness, scaled by
/// the article's maximum); groups whose names fold alike merge. Sorted by salience.
fn entities(
    order: &[String],
    groups: &HashMap<String, Group>,
    names: &HashMap<String, (String, EntityKind)>,
    text_len: usize,
) -> Vec<Entity> {
    let mut ents: Vec<Entity> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for key in order {
        let g = &groups[key];
        let (name, kind) = &names[key];
        let k = fold_key(name);
        match by_key.get(&k) {
            Some(&e) => {
                let ent = &mut ents[e];
                ent.mentions += g.mentions;
                ent.first_offset = ent.first_offset.min(g.first);
                ent.in_title |= g.in_title;
            }
            None => {
                by_key.insert(k, ents.len());
                ents.push(Entity {
                    name: name.clone(),
                    kind: *kind,
                    mentions: g.mentions,
                    first_offset: g.first,
                    in_title: g.in_title,
                    salience: 0.0,
                });
            }
        }
    }
    rank(&mut ents, text_len);
    ents
}

/// Salience of each entity of a text of `text_len` bytes (log(1+mentions) + 1.5·in_title +
/// 0.5·earliness, scaled by the text's maximum), then sorted by it, earliest first on ties.
pub(super) fn rank(ents: &mut [Entity], text_len: usize) {
    let text_len = text_len.max(1);
    let raw_score = |e: &Entity| {
        let early = 1.0 - (e.first_offset as f32 / text_len as f32).min(1.0);
        (e.mentions as f32).ln_1p() + if e.in_title { 1.5 } else { 0.0 } + 0.5 * early
    };
    let max = ents.iter().map(raw_score).fold(0f32, f32::max);
    for e in ents.iter_mut() {
        e.salience = if max > 0.0 {
            (raw_score(e) / max).clamp(0.0, 1.0)
        } else {
            0.0
        };
    }
    ents.sort_by(|a, b| {
        b.salience
            .partial_cmp(&a.salience)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.first_offset.cmp(&b.first_offset))
    });
}

/// Links the raw mentions of one text (`title_len` bytes of title at its start, 0 if none).
pub fn link(
    text: &str,
    raw: &[RawMention],
    title_len: usize,
    gaz: &Gazetteer,
) -> (Vec<Mention>, Vec<Entity>) {
    let mut work = work_items(text, raw, gaz);
    table_links(&mut work, gaz);
    let persons = person_names(&work);
    let resolved = resolve(&work, &persons);
    let (order, groups, group_of) = group(&work, &resolved, title_len);
    let names: HashMap<String, (String, EntityKind)> = order
        .iter()
        .map(|k| (k.clone(), group_name(&groups[k])))
        .collect();
    let mentions = work
        .iter()
        .zip(&group_of)
        .map(|(w, g)| {
            let (name, kind) = names[g].clone();
            Mention {
                text: w.surface.clone(),
                name,
                kind,
                start: w.start,
                end: w.end,
            }
        })
        .collect();
    (mentions, entities(&order, &groups, &names, text.len()))
}
