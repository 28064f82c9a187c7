//! Gazetteers: the compact tables under `data/gazetteers/` (countries with aliases and demonyms,
//! large cities, international organisations) embedded in the binary, plus a hand-written list of
//! honorifics and job titles. Owns token-sequence matching (for tagger features) and the alias
//! table used by linking.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::model::{EntityKind, fold_key};

use super::hash::{IdMap, hash_str, mix};
use super::tokenize::tokenize;

pub const CAT_COUNTRY: u16 = 1;
pub const CAT_DEMONYM: u16 = 2;
pub const CAT_CITY: u16 = 4;
pub const CAT_ORG: u16 = 8;
pub const CAT_ORG_ABBR: u16 = 16;
pub const CAT_TITLE: u16 = 32;
pub const CAT_DISEASE: u16 = 64;
pub const NUM_CATS: u32 = 7;
/// Marks a token sequence that begins a longer entry (not a category).
const PREFIX: u16 = 0x8000;

const COUNTRIES: &str = include_str!("../../data/gazetteers/countries.tsv");
const CITIES: &str = include_str!("../../data/gazetteers/cities.tsv");
const ORGS: &str = include_str!("../../data/gazetteers/orgs.tsv");

/// Honorifics and job titles stripped from person mentions (and used as a tagger feature).
pub const TITLES: &[&str] = &[
    "President",
    "Vice President",
    "Prime Minister",
    "Deputy Prime Minister",
    "Foreign Minister",
    "Defence Minister",
    "Defense Minister",
    "Finance Minister",
    "Minister",
    "Chancellor",
    "Secretary",
    "Secretary of State",
    "Secretary-General",
    "Secretary General",
    "Senator",
    "Sen.",
    "Rep.",
    "Representative",
    "Congressman",
    "Congresswoman",
    "Gov.",
    "Governor",
    "Mayor",
    "King",
    "Queen",
    "Prince",
    "Princess",
    "Crown Prince",
    "Pope",
    "Emperor",
    "Sheikh",
    "General",
    "Gen.",
    "Lt.",
    "Col.",
    "Colonel",
    "Sgt.",
    "Capt.",
    "Captain",
    "Adm.",
    "Admiral",
    "Judge",
    "Justice",
    "Chief Justice",
    "Chairman",
    "Chairwoman",
    "Chief Executive",
    "CEO",
    "Leader",
    "Supreme Leader",
    "Premier",
    "Speaker",
    "Ambassador",
    "Envoy",
    "Sir",
    "Dame",
    "Lord",
    "Lady",
    "Mr.",
    "Mrs.",
    "Ms.",
    "Mr",
    "Mrs",
    "Ms",
    "Miss",
    "Mx",
    "Mx.",
    "Madam",
    "Madame",
    "Mme",
    "Dr.",
    "Dr",
    "Prof.",
    "Professor",
    "Rev.",
    "Reverend",
    "Father",
    "Coach",
    "Attorney General",
    "Director",
    "Commissioner",
    "Pres.",
    "Det.",
    "Inspector",
    "Marshal",
    "Field Marshal",
    "Ayatollah",
    "Cardinal",
    "Archbishop",
    "Bishop",
    "Rabbi",
    "Imam",
    "Chief",
    "Administrator",
    "Attorney",
    "Tsar",
    "Czar",
    "Saint",
    "St.",
    "MP",
    "Gen",
    "Sen",
    "Gov",
    "Lt",
    "Col",
    "Capt",
    "Sgt",
    "President-elect",
    "First Lady",
    "Spokesman",
    "Spokeswoman",
    "Lawmaker",
    "Chancellor",
    "Abbot",
    "Sheik",
    "Mullah",
    "Brother",
    "Sister",
    "Uncle",
    "Aunt",
    "Dame",
    "Baron",
    "Baroness",
    "Duke",
    "Duchess",
    "Earl",
    "Count",
    "Countess",
    "Nurse",
    "Officer",
    "Sergeant",
    "Lieutenant",
    "Major",
    "Corporal",
    "Private",
    "Agent",
    "Detective",
    "Constable",
    "Deputy",
    "Superintendent",
    "Commander",
    "Marshal",
    "Premier",
    "Ambassador",
    "Consul",
    "Dean",
    "Principal",
];

/// Head nouns of organisation names that take an "of"/"for"/"on" complement ("Commission on
/// Elections", "Special Tribunal for Lebanon", "Bureau of Land Management"): the connector and
/// the capitalised word after it stay inside the name (CoNLL-2003 train: 62 of the 72 such runs;
/// 9 of the other 10 end at a day or a title).
pub const ORG_HEADS: &[&str] = &[
    "Academy",
    "Agency",
    "Association",
    "Authority",
    "Bank",
    "Board",
    "Bureau",
    "Centre",
    "Center",
    "College",
    "Commission",
    "Committee",
    "Corporation",
    "Council",
    "Court",
    "Department",
    "Federation",
    "Foundation",
    "Fund",
    "Institute",
    "League",
    "Ministry",
    "Office",
    "Organisation",
    "Organization",
    "Party",
    "School",
    "Service",
    "Society",
    "Tribunal",
    "University",
];

/// Days and months: "the Council on Friday" ends the name before "on".
pub const CALENDAR_WORDS: &[&str] = &[
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Holidays and festivals: events (MISC in the guidelines), never a person or an organisation
/// ("Halloween 's return"); a place may be named after one ("Christmas Island").
pub const HOLIDAYS: &[&str] = &[
    "Christmas",
    "Easter",
    "Halloween",
    "Thanksgiving",
    "Ramadan",
    "Eid",
    "Diwali",
    "Hanukkah",
    "Passover",
    "Lent",
    "Hogmanay",
    "Kwanzaa",
    "Matariki",
    "Songkran",
];

/// Diseases and pathogens known by a proper name, which CoNLL-2003 tags MISC ("AIDS", "BSE",
/// "CJD" in its training data) as do the news guidelines ("Covid-19"); generic names
/// ("coronavirus", "flu", "measles") are not proper names and are not listed. A tagger feature.
pub const DISEASES: &[&str] = &[
    "COVID-19",
    "COVID",
    "SARS-CoV-2",
    "SARS",
    "MERS",
    "Ebola",
    "Zika",
    "HIV",
    "AIDS",
    "H1N1",
    "H5N1",
    "BSE",
    "CJD",
    "Creutzfeldt-Jakob",
    "Alzheimer's",
    "Parkinson's",
    "Huntington's",
    "Crohn's",
    "Lyme",
    "Marburg",
    "Lassa",
    "Nipah",
    "Omicron",
    "Legionnaires'",
    "Tourette's",
    "Asperger's",
    "Guillain-Barré",
    "Kawasaki",
    "Chagas",
];

/// Buildings and addresses that news uses for the government or institution seated there
/// (metonymy): whatever the tagger calls a mention of them, linking files it under the
/// institution, an organisation ("the Kremlin said", "talks in the Kremlin" both count for the
/// Russian presidency). Canonical name first, then other names.
pub const SEATS: &[&[&str]] = &[
    &["Kremlin"],
    &["White House"],
    &["Pentagon"],
    &["Downing Street", "Number 10", "No 10", "No. 10"],
    &["Élysée", "Elysee", "Élysée Palace", "Elysee Palace"],
    &[
        "Malacañang",
        "Malacanang",
        "Malacañang Palace",
        "Malacanang Palace",
    ],
    &["Blue House", "Cheong Wa Dae"],
    &["Zhongnanhai"],
    &["Quai d'Orsay"],
    &["Whitehall"],
    &["Capitol Hill"],
    &["Beehive"],
    &["Kantei"],
    &["Bundeskanzleramt"],
    &["Palacio de la Moncloa", "Moncloa"],
    &["Palazzo Chigi"],
];

/// One canonical entry known to the alias table.
#[derive(Debug, Clone)]
pub struct Canonical {
    pub name: String,
    pub kind: EntityKind,
}

/// The loaded gazetteers.
pub struct Gazetteer {
    seqs: IdMap<u16>,
    max_len: usize,
    aliases: HashMap<String, u32>,
    demonyms: HashMap<String, u32>,
    titles: HashMap<String, usize>,
    max_title_len: usize,
    canon: Vec<Canonical>,
}

/// Folded key of one token: lower case, no dots, no diacritics (as `fold_key`).
pub fn token_key(tok: &str, out: &mut String) {
    out.clear();
    let mut cs = tok.chars();
    if let (Some(c), None) = (cs.next(), cs.next())
        && !c.is_alphanumeric()
    {
        {
            // single punctuation mark: the same mapping as fold_key, without normalisation
            out.push(match c {
                '\u{2019}' | '\u{2018}' | '`' => '\'',
                '\u{2010}'..='\u{2015}' => '-',
                '.' => return,
                c => c,
            });
            return;
        }
    }
    if tok.is_ascii() {
        for b in tok.bytes() {
            if b != b'.' {
                out.push(b.to_ascii_lowercase() as char);
            }
        }
    } else {
        out.push_str(&fold_key(tok));
    }
}

/// Hash of a token sequence given the tokens' key hashes.
pub fn seq_hash(key_hashes: impl Iterator<Item = u64>) -> u64 {
    let mut h = 0x005e_ed0f_9a2e_u64;
    for k in key_hashes {
        h = mix(h ^ k);
    }
    h
}

fn key_hashes_of(s: &str) -> Vec<u64> {
    let mut buf = String::new();
    tokenize(s)
        .iter()
        .map(|t| {
            token_key(t.text(s), &mut buf);
            hash_str(&buf)
        })
        .collect()
}

impl Gazetteer {
    /// The embedded gazetteer, parsed once.
    pub fn global() -> &'static Gazetteer {
        static G: OnceLock<Gazetteer> = OnceLock::new();
        G.get_or_init(|| Gazetteer::parse(COUNTRIES, CITIES, ORGS))
    }

    /// Parses the three compiled tables.
    pub fn parse(countries: &str, cities: &str, orgs: &str) -> Gazetteer {
        let mut g = Gazetteer {
            seqs: IdMap::default(),
            max_len: 1,
            aliases: HashMap::new(),
            demonyms: HashMap::new(),
            titles: HashMap::new(),
            max_title_len: 1,
            canon: Vec::new(),
        };
        fn rows(s: &str) -> Vec<Vec<&str>> {
            s.lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .map(|l| l.split('\t').collect::<Vec<_>>())
                .collect::<Vec<_>>()
        }
        let split = |s: Option<&&str>| -> Vec<String> {
            s.map(|s| {
                s.split('|')
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
        };
        // Priority: countries, then seats of government, organisations, cities (first writer wins).
        for r in rows(countries) {
            let id = g.add_canon(r[0], EntityKind::Location);
            g.add_alias(r[0], id, CAT_COUNTRY);
            for a in split(r.get(1)) {
                g.add_alias(&a, id, CAT_COUNTRY);
            }
            for d in split(r.get(2)) {
                // a generated plural can be a country's own name ("Philippines")
                if g.aliases.contains_key(&fold_key(&d)) {
                    continue;
                }
                g.demonyms.entry(fold_key(&d)).or_insert(id);
                g.add_seq(&d, CAT_DEMONYM);
            }
        }
        for names in SEATS {
            let id = g.add_canon(names[0], EntityKind::Organization);
            for n in names.iter() {
                g.aliases.entry(fold_key(n)).or_insert(id);
            }
        }
        for r in rows(orgs) {
            let id = g.add_canon(r[0], EntityKind::Organization);
            g.add_alias(r[0], id, CAT_ORG);
            for a in split(r.get(1)) {
                g.add_alias(&a, id, CAT_ORG_ABBR);
            }
            for a in split(r.get(2)) {
                g.add_alias(&a, id, CAT_ORG);
            }
        }
        for r in rows(cities) {
            let id = g.add_canon(r[0], EntityKind::Location);
            g.add_alias(r[0], id, CAT_CITY);
            g.add_derived_demonyms(r[0], id);
        }
        for d in DISEASES {
            g.add_seq(d, CAT_DISEASE);
        }
        for t in TITLES {
            let ks = key_hashes_of(t);
            g.max_title_len = g.max_title_len.max(ks.len());
            g.titles.insert(fold_key(t), ks.len());
            g.add_seq(t, CAT_TITLE);
        }
        g
    }

    /// Inhabitant nouns formed from a city name with "-er(s)" ("Aucklander", "New Yorkers",
    /// "Londoner"), kept only where no other table claims the form.
    fn add_derived_demonyms(&mut self, name: &str, id: u32) {
        if !name.ends_with(|c: char| c.is_ascii_lowercase()) || name.ends_with('e') {
            return;
        }
        for suffix in ["er", "ers"] {
            let d = format!("{name}{suffix}");
            let k = fold_key(&d);
            if self.aliases.contains_key(&k) || self.demonyms.contains_key(&k) {
                continue;
            }
            self.demonyms.insert(k, id);
            self.add_seq(&d, CAT_DEMONYM);
        }
    }

    fn add_canon(&mut self, name: &str, kind: EntityKind) -> u32 {
        if let Some(&id) = self.aliases.get(&fold_key(name)) {
            return id;
        }
        self.canon.push(Canonical {
            name: name.to_string(),
            kind,
        });
        (self.canon.len() - 1) as u32
    }

    fn add_alias(&mut self, alias: &str, id: u32, cat: u16) {
        self.aliases.entry(fold_key(alias)).or_insert(id);
        self.add_seq(alias, cat);
    }

    fn add_seq(&mut self, s: &str, cat: u16) {
        let ks = key_hashes_of(s);
        if ks.is_empty() || ks.len() > 8 {
            return;
        }
        self.max_len = self.max_len.max(ks.len());
        // proper prefixes are marked so matching can stop at the first miss
        for p in 1..ks.len() {
            *self
                .seqs
                .entry(seq_hash(ks[..p].iter().copied()))
                .or_insert(0) |= PREFIX;
        }
        *self.seqs.entry(seq_hash(ks.into_iter())).or_insert(0) |= cat;
    }

    /// Canonical entry for an alias (already folded with `fold_key`).
    pub fn alias(&self, folded: &str) -> Option<&Canonical> {
        self.aliases.get(folded).map(|&i| &self.canon[i as usize])
    }

    /// Country for a demonym (folded), e.g. "north korean" → North Korea.
    pub fn demonym(&self, folded: &str) -> Option<&Canonical> {
        self.demonyms.get(folded).map(|&i| &self.canon[i as usize])
    }

    /// Number of leading tokens (given as folded keys) that form an honorific or job title.
    pub fn title_prefix_len(&self, keys: &[String]) -> usize {
        let max = self.max_title_len.min(keys.len());
        for len in (1..=max).rev() {
            let joined = keys[..len].join(" ");
            if self.titles.contains_key(&joined) {
                return len;
            }
        }
        0
    }

    /// Marks gazetteer matches in one sentence. `key_hashes[i]` is the hash of token i's folded
    /// key and `cap[i]` whether it starts upper case. Result bits: low byte = category begins at
    /// the token, high byte = token continues a match.
    /// Abbreviations (NATO, UN) only match all-caps tokens (`upper[i]`).
    pub fn annotate(&self, key_hashes: &[u64], cap: &[bool], upper: &[bool], out: &mut [u16]) {
        let n = key_hashes.len();
        let mut i = 0;
        while i < n {
            if !cap[i] {
                i += 1;
                continue;
            }
            let mut h = 0x005e_ed0f_9a2e_u64;
            let mut best = (0usize, 0u16);
            for len in 1..=self.max_len.min(n - i) {
                h = mix(h ^ key_hashes[i + len - 1]);
                let Some(&c) = self.seqs.get(&h) else { break };
                if c & !PREFIX != 0 {
                    best = (len, c & !PREFIX);
                }
                if c & PREFIX == 0 {
                    break;
                }
            }
            if best.0 == 1 && !upper[i] {
                best.1 &= !CAT_ORG_ABBR;
            }
            if best.0 == 0 || best.1 == 0 {
                i += 1;
                continue;
            }
            out[i] |= best.1;
            for o in out.iter_mut().skip(i + 1).take(best.0 - 1) {
                *o |= best.1 << 8;
            }
            i += best.0;
        }
    }
}
