//! Per-article linking: turns tagged mentions into canonical entities. Strips honorifics and job
//! titles and possessives, resolves aliases and demonyms through the gazetteer tables ("U.S." →
//! United States, "North Korean" → North Korea as a location), resolves partial person names to
//! the full name used elsewhere in the article ("Putin" → "Vladimir Putin"), acronyms and name
//! prefixes of organisations, and computes mention counts, first offsets and salience.

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

struct Work {
    start: usize,
    end: usize,
    surface: String,
    core: String,
    keys: Vec<String>,
    kind: EntityKind,
    /// canonical (name, kind, fixed-by-table)
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

/// Links the raw mentions of one text (`title_len` bytes of title at its start, 0 if none).
pub fn link(
    text: &str,
    raw: &[RawMention],
    title_len: usize,
    gaz: &Gazetteer,
) -> (Vec<Mention>, Vec<Entity>) {
    let mut work: Vec<Work> = Vec::with_capacity(raw.len());
    for m in raw {
        if m.tokens.is_empty() {
            continue;
        }
        let mut toks: &[Token] = &m.tokens;
        let keys_all: Vec<String> = toks.iter().map(|t| fold_key(t.text(text))).collect();
        // honorifics / job titles anywhere before the name ("US President Barack Obama")
        let mut strip = 0;
        if m.kind == EntityKind::Person {
            for j in 0..toks.len() {
                let len = gaz.title_prefix_len(&keys_all[j..]);
                if len > 0 && j + len < toks.len() {
                    strip = j + len;
                }
            }
            while strip < toks.len() - 1
                && !toks[strip].text(text).starts_with(char::is_alphanumeric)
            {
                strip += 1;
            }
            if !toks[strip].text(text).starts_with(char::is_uppercase) {
                strip = 0;
            }
        }
        toks = &toks[strip..];
        while toks.len() > 1 && is_possessive(toks[toks.len() - 1].text(text)) {
            toks = &toks[..toks.len() - 1];
        }
        let (s, e) = (toks[0].start, toks[toks.len() - 1].end);
        let core = text[s..e].split_whitespace().collect::<Vec<_>>().join(" ");
        let keys = keys_all[strip..strip + toks.len()].to_vec();
        work.push(Work {
            start: m.tokens[0].start,
            end: m.tokens[m.tokens.len() - 1].end,
            surface: text[m.tokens[0].start..m.tokens[m.tokens.len() - 1].end].to_string(),
            core,
            keys,
            kind: m.kind,
            canon: None,
        });
    }
    // 1. alias tables and demonyms
    for w in work.iter_mut() {
        let key = fold_key(&w.core.replace(" '", "'").replace(" \u{2019}", "'"));
        if w.kind != EntityKind::Person {
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
    // 2. person names: cluster names that extend each other ("Putin" ⊂ "Vladimir Putin"), then
    //    organisation acronyms/prefixes and surnames mis-tagged as ORG/MISC.
    let persons: Vec<usize> = (0..work.len())
        .filter(|&i| work[i].kind == EntityKind::Person && work[i].canon.is_none())
        .collect();
    let orgs: Vec<usize> = (0..work.len())
        .filter(|&i| work[i].kind == EntityKind::Organization && work[i].canon.is_none())
        .collect();
    // distinct person names: (keys, count, representative mention)
    let mut pnames: Vec<(Vec<String>, u32, usize)> = Vec::new();
    let mut pname_of: HashMap<usize, usize> = HashMap::new();
    for &i in &persons {
        let k = match pnames.iter().position(|n| n.0 == work[i].keys) {
            Some(k) => k,
            None => {
                pnames.push((work[i].keys.clone(), 0, i));
                pnames.len() - 1
            }
        };
        pnames[k].1 += 1;
        if all_caps(&work[pnames[k].2].core) && !all_caps(&work[i].core) {
            pnames[k].2 = i;
        }
        pname_of.insert(i, k);
    }
    let mut porder: Vec<usize> = (0..pnames.len()).collect();
    porder.sort_by(|&a, &b| {
        pnames[b]
            .0
            .len()
            .cmp(&pnames[a].0.len())
            .then(pnames[a].2.cmp(&pnames[b].2))
    });
    let mut root: Vec<usize> = (0..pnames.len()).collect();
    let mut ccount: HashMap<usize, u32> = HashMap::new();
    let mut done: Vec<usize> = Vec::new();
    for &a in &porder {
        let mut best: Option<usize> = None;
        for &b in &done {
            if contains_seq(&pnames[b].0, &pnames[a].0) {
                let r = root[b];
                let better = match best {
                    None => true,
                    Some(x) => {
                        ccount[&r] > ccount[&x]
                            || (ccount[&r] == ccount[&x] && pnames[r].2 < pnames[x].2)
                    }
                };
                if better {
                    best = Some(r);
                }
            }
        }
        root[a] = best.unwrap_or(a);
        *ccount.entry(root[a]).or_insert(0) += pnames[a].1;
        done.push(a);
    }
    // canonical name of each cluster: most frequent multi-word name, then shorter, then earlier
    let mut canon_of_root: HashMap<usize, usize> = HashMap::new();
    for a in 0..pnames.len() {
        let r = root[a];
        let cur = canon_of_root.get(&r).copied();
        let score = |x: usize| {
            (
                pnames[x].0.len() >= 2,
                pnames[x].1,
                usize::MAX - pnames[x].0.len(),
                usize::MAX - pnames[x].2,
            )
        };
        if cur.is_none_or(|c| score(a) > score(c)) {
            canon_of_root.insert(r, a);
        }
    }
    let person_owner = |k: usize| pnames[canon_of_root[&root[k]]].2;
    let mut resolved: Vec<Option<usize>> = vec![None; work.len()];
    for i in 0..work.len() {
        if work[i].canon.is_some() {
            continue;
        }
        let keys = &work[i].keys;
        let surname_of_person = || {
            pnames
                .iter()
                .enumerate()
                .filter(|(_, n)| n.0.len() > 1 && n.0.last() == keys.last())
                .max_by_key(|(k, n)| (n.1, usize::MAX - k))
                .map(|(k, _)| person_owner(k))
        };
        resolved[i] = match work[i].kind {
            EntityKind::Person => pname_of.get(&i).map(|&k| person_owner(k)),
            EntityKind::Organization => {
                let mut c: Vec<usize> = orgs
                    .iter()
                    .copied()
                    .filter(|&j| {
                        let k = &work[j].keys;
                        k.len() > keys.len() && k.starts_with(keys)
                    })
                    .collect();
                if c.is_empty() && keys.len() == 1 && keys[0].len() >= 2 {
                    c = orgs
                        .iter()
                        .copied()
                        .filter(|&j| work[j].keys.len() >= 2 && initials(&work[j].keys) == keys[0])
                        .collect();
                }
                // longest candidate; ties → earliest
                let best = c
                    .into_iter()
                    .max_by(|&a, &b| work[a].keys.len().cmp(&work[b].keys.len()).then(b.cmp(&a)));
                match best {
                    Some(b) => Some(b),
                    None if keys.len() == 1 => surname_of_person(),
                    None => None,
                }
            }
            EntityKind::Misc if keys.len() == 1 => surname_of_person(),
            _ => None,
        };
    }
    // 3. canonical names per group
    let mut group_of: Vec<String> = Vec::with_capacity(work.len());
    for i in 0..work.len() {
        let key = if let Some((n, _)) = &work[i].canon {
            fold_key(n)
        } else if let Some(j) = resolved[i] {
            work[j].keys.join(" ")
        } else {
            work[i].keys.join(" ")
        };
        group_of.push(key);
    }
    struct Group {
        forms: HashMap<String, u32>,
        table: Option<(String, EntityKind)>,
        kinds: [u32; 4],
        mentions: u32,
        first: usize,
        in_title: bool,
    }
    let kind_ix = |k: EntityKind| match k {
        EntityKind::Person => 0,
        EntityKind::Organization => 1,
        EntityKind::Location => 2,
        EntityKind::Misc => 3,
    };
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
        let form_owner = resolved[i].map(|j| &work[j]).unwrap_or(w);
        *g.forms.entry(form_owner.core.clone()).or_insert(0) += 1;
        let kind = resolved[i].map(|j| work[j].kind).unwrap_or(w.kind);
        g.kinds[kind_ix(kind)] += 1;
        g.mentions += 1;
        g.first = g.first.min(w.start);
        g.in_title |= w.start < title_len;
    }
    let kinds = [
        EntityKind::Person,
        EntityKind::Organization,
        EntityKind::Location,
        EntityKind::Misc,
    ];
    let mut names: HashMap<String, (String, EntityKind)> = HashMap::new();
    for key in &order {
        let g = &groups[key];
        let (name, kind) = match &g.table {
            Some((n, k)) => (n.clone(), *k),
            None => {
                // most frequent form; prefer non-all-caps, then longer, then lexicographically first
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
                (nice_case(forms[0].0), kinds[best])
            }
        };
        names.insert(key.clone(), (name, kind));
    }
    let mentions: Vec<Mention> = work
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let (name, kind) = names[&group_of[i]].clone();
            Mention {
                text: w.surface.clone(),
                name,
                kind,
                start: w.start,
                end: w.end,
            }
        })
        .collect();
    // 4. entities with salience; merge groups whose canonical names fold alike
    let mut ents: Vec<Entity> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let text_len = text.len().max(1);
    for key in &order {
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
    (mentions, ents)
}
