//! Places and the countries they are in. A report that shares only a broad place (a country, a
//! first-level division such as a state or province, a world region) with another tells where,
//! not what: "Texas" is in the Del Rio migrants story and in the abortion-law story alike. A city,
//! a district or a landmark is specific evidence. And two reports set in different countries
//! (a vaccine approval in Singapore, the first shots in California) are different stories
//! whatever else they share. The pair scorer weighs both.
//!
//! Countries come from the tagger's gazetteer (`data/gazetteers/countries.tsv`, names and
//! aliases), cities and their countries from `data/gazetteers/cities.tsv` with
//! `data/places/country-codes.tsv`; divisions and regions are listed here.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::model::fold_key;

/// First-level divisions of the countries whose outlets the digest most often reads (with their
/// country), and world regions (no country). Matched on folded entity keys.
const DIVISIONS_AND_REGIONS: &[(&str, &str)] = &[
    // United States
    ("alabama", "United States"),
    ("alaska", "United States"),
    ("arizona", "United States"),
    ("arkansas", "United States"),
    ("california", "United States"),
    ("colorado", "United States"),
    ("connecticut", "United States"),
    ("delaware", "United States"),
    ("florida", "United States"),
    ("georgia", "United States"),
    ("hawaii", "United States"),
    ("idaho", "United States"),
    ("illinois", "United States"),
    ("indiana", "United States"),
    ("iowa", "United States"),
    ("kansas", "United States"),
    ("kentucky", "United States"),
    ("louisiana", "United States"),
    ("maine", "United States"),
    ("maryland", "United States"),
    ("massachusetts", "United States"),
    ("michigan", "United States"),
    ("minnesota", "United States"),
    ("mississippi", "United States"),
    ("missouri", "United States"),
    ("montana", "United States"),
    ("nebraska", "United States"),
    ("nevada", "United States"),
    ("new hampshire", "United States"),
    ("new jersey", "United States"),
    ("new mexico", "United States"),
    ("new york state", "United States"),
    ("north carolina", "United States"),
    ("north dakota", "United States"),
    ("ohio", "United States"),
    ("oklahoma", "United States"),
    ("oregon", "United States"),
    ("pennsylvania", "United States"),
    ("rhode island", "United States"),
    ("south carolina", "United States"),
    ("south dakota", "United States"),
    ("tennessee", "United States"),
    ("texas", "United States"),
    ("utah", "United States"),
    ("vermont", "United States"),
    ("virginia", "United States"),
    ("washington state", "United States"),
    ("west virginia", "United States"),
    ("wisconsin", "United States"),
    ("wyoming", "United States"),
    ("puerto rico", "United States"),
    // Australia
    ("new south wales", "Australia"),
    ("nsw", "Australia"),
    ("victoria", "Australia"),
    ("queensland", "Australia"),
    ("western australia", "Australia"),
    ("south australia", "Australia"),
    ("tasmania", "Australia"),
    ("northern territory", "Australia"),
    ("australian capital territory", "Australia"),
    // Canada
    ("ontario", "Canada"),
    ("quebec", "Canada"),
    ("british columbia", "Canada"),
    ("alberta", "Canada"),
    ("manitoba", "Canada"),
    ("saskatchewan", "Canada"),
    ("nova scotia", "Canada"),
    ("new brunswick", "Canada"),
    ("newfoundland and labrador", "Canada"),
    ("prince edward island", "Canada"),
    ("yukon", "Canada"),
    ("nunavut", "Canada"),
    ("northwest territories", "Canada"),
    // United Kingdom
    ("england", "United Kingdom"),
    ("scotland", "United Kingdom"),
    ("wales", "United Kingdom"),
    ("northern ireland", "United Kingdom"),
    ("britain", "United Kingdom"),
    ("great britain", "United Kingdom"),
    // New Zealand
    ("north island", "New Zealand"),
    ("south island", "New Zealand"),
    // Philippines
    ("luzon", "Philippines"),
    ("visayas", "Philippines"),
    ("mindanao", "Philippines"),
    // China
    ("hubei", "China"),
    ("guangdong", "China"),
    ("xinjiang", "China"),
    ("tibet", "China"),
    ("sichuan", "China"),
    ("yunnan", "China"),
    // India
    ("kerala", "India"),
    ("maharashtra", "India"),
    ("uttar pradesh", "India"),
    ("tamil nadu", "India"),
    ("kashmir", "India"),
    // continents and regions
    ("africa", ""),
    ("asia", ""),
    ("europe", ""),
    ("north america", ""),
    ("south america", ""),
    ("latin america", ""),
    ("central america", ""),
    ("oceania", ""),
    ("antarctica", ""),
    ("arctic", ""),
    ("middle east", ""),
    ("southeast asia", ""),
    ("south asia", ""),
    ("east asia", ""),
    ("central asia", ""),
    ("asia pacific", ""),
    ("asia-pacific", ""),
    ("pacific", ""),
    ("caribbean", ""),
    ("scandinavia", ""),
    ("balkans", ""),
    ("gulf", ""),
    ("west", ""),
    ("western europe", ""),
    ("eastern europe", ""),
    ("west africa", ""),
    ("east africa", ""),
    ("sub-saharan africa", ""),
    ("horn of africa", ""),
    ("kurdistan", ""),
    ("soviet union", ""),
];

/// What the place tables know of a folded place key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PlaceInfo {
    /// A country, a first-level division or a world region.
    pub broad: bool,
    /// The country it is in (an index into the table of countries), if known.
    pub country: Option<u32>,
}

struct Tables {
    places: HashMap<String, PlaceInfo>,
    /// Title and lead terms (lower-cased, stemmed as grouping stems them) that name a broad
    /// place or its people: one-word countries, their aliases and demonyms ("china",
    /// "chinese"), divisions and regions ("texas", "europe").
    broad_words: std::collections::HashSet<String>,
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        static COUNTRIES: &str = include_str!("../../data/gazetteers/countries.tsv");
        static CITIES: &str = include_str!("../../data/gazetteers/cities.tsv");
        static CODES: &str = include_str!("../../data/places/country-codes.tsv");
        let rows = |s: &'static str| {
            s.lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .map(|l| l.split('\t'))
        };
        let mut places: HashMap<String, PlaceInfo> = HashMap::new();
        let mut country_ids: HashMap<String, u32> = HashMap::new();
        let country_id = |name: &str, ids: &mut HashMap<String, u32>| -> u32 {
            let k = fold_key(name);
            let n = ids.len() as u32;
            *ids.entry(k).or_insert(n)
        };
        // divisions and regions first: the tagger's country gazetteer also lists world regions
        // ("Europe", "Middle East") and the nations of the United Kingdom, and those must not
        // become countries of their own (a report on Europe is in no country; one on Scotland
        // is in the United Kingdom)
        for &(name, country) in DIVISIONS_AND_REGIONS {
            let country = (!country.is_empty()).then(|| country_id(country, &mut country_ids));
            places.insert(
                name.to_string(),
                PlaceInfo {
                    broad: true,
                    country,
                },
            );
        }
        for mut cols in rows(COUNTRIES) {
            let Some(name) = cols.next() else { continue };
            let info = match places.get(&fold_key(name)) {
                Some(&listed) => listed,
                None => PlaceInfo {
                    broad: true,
                    country: Some(country_id(name, &mut country_ids)),
                },
            };
            places.insert(fold_key(name), info);
            for alias in cols.next().unwrap_or("").split('|') {
                if !alias.trim().is_empty() {
                    places.entry(fold_key(alias)).or_insert(info);
                }
            }
        }
        let codes: HashMap<&str, &str> = rows(CODES)
            .filter_map(|mut c| Some((c.next()?, c.next()?)))
            .collect();
        for mut cols in rows(CITIES) {
            let (Some(city), Some(code)) = (cols.next(), cols.next()) else {
                continue;
            };
            let Some(country) = codes.get(code.trim()) else {
                continue;
            };
            let id = country_id(country, &mut country_ids);
            places.entry(fold_key(city)).or_insert(PlaceInfo {
                broad: false,
                country: Some(id),
            });
        }
        let mut broad_words = std::collections::HashSet::new();
        let mut word = String::new();
        let mut add = |w: &str| {
            let w = w.trim();
            if !w.is_empty() && !w.contains(|c: char| !c.is_alphabetic()) {
                crate::stories::features::lower_into(w, &mut word);
                crate::stories::features::stem_in_place(&mut word);
                broad_words.insert(word.clone());
            }
        };
        for mut cols in rows(COUNTRIES) {
            let Some(name) = cols.next() else { continue };
            add(name);
            for names in cols {
                names.split('|').for_each(&mut add);
            }
        }
        for &(name, _) in DIVISIONS_AND_REGIONS {
            add(name);
        }
        Tables {
            places,
            broad_words,
        }
    })
}

/// Whether a grouping term (lower-cased and stemmed) names a broad place or its people
/// ("china", "chinese", "texas"): as weak as the place itself.
pub(crate) fn broad_word(term: &str) -> bool {
    tables().broad_words.contains(term)
}

/// What is known of a place by its folded entity key (see [`crate::model::fold_key`]): whether
/// it is broad, and its country. Unknown places are specific, of no known country.
pub(crate) fn place_info(key: &str) -> PlaceInfo {
    tables().places.get(key).copied().unwrap_or(PlaceInfo {
        broad: false,
        country: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_states_and_regions_are_broad_cities_are_not() {
        for k in [
            "united states",
            "france",
            "texas",
            "california",
            "europe",
            "victoria",
        ] {
            assert!(place_info(k).broad, "{k}");
        }
        for k in ["del rio", "auckland", "kabul", "sequoia national park"] {
            assert!(!place_info(k).broad, "{k}");
        }
    }

    #[test]
    fn words_naming_broad_places_are_known() {
        let stem = |w: &str| {
            let mut s = String::new();
            crate::stories::features::lower_into(w, &mut s);
            crate::stories::features::stem_in_place(&mut s);
            s
        };
        for w in ["China", "Chinese", "Texas", "Europe", "French", "Americans"] {
            assert!(broad_word(&stem(w)), "{w}");
        }
        for w in ["dam", "Auckland", "flood", "united"] {
            assert!(!broad_word(&stem(w)), "{w}");
        }
    }

    #[test]
    fn places_know_their_country() {
        let c = |k: &str| place_info(k).country;
        assert_eq!(c("california"), c("united states"));
        assert_eq!(c("us"), c("united states"));
        assert_eq!(c("auckland"), c("new zealand"));
        assert_eq!(c("manila"), c("philippines"));
        assert_ne!(c("singapore"), c("united states"));
        assert!(c("united states").is_some());
        assert_eq!(c("europe"), None);
        assert_eq!(c("middle east"), None);
        assert_eq!(
            c("mideast"),
            None,
            "an alias of a region is no country either"
        );
        assert_eq!(c("scotland"), c("united kingdom"));
        assert_eq!(c("ulster"), c("united kingdom"));
        assert_eq!(c("sequoia national park"), None);
    }
}
