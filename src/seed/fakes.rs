//! Realistic text from the `fake` crate: the names a scenario can use (`fake = "email"`),
//! the locales, and the guess made from a column's name when the scenario says nothing.

use fake::Fake;
use fake::faker::impls::address::CityNameGenFn;
use fake::faker::{address::raw as address, company::raw as company, internet::raw as internet};
use fake::faker::{
    job::raw as job, lorem::raw as lorem, name::raw as name, phone_number::raw as phone,
};
use fake::locales::{self, Data};
use rand::RngExt;

use crate::util::suggest;

/// A named kind of fake value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeKind {
    Name,
    FirstName,
    LastName,
    Email,
    Username,
    Password,
    Phone,
    City,
    Country,
    CountryCode,
    Street,
    Address,
    ZipCode,
    State,
    Company,
    Industry,
    JobTitle,
    CatchPhrase,
    Word,
    Words,
    Sentence,
    Paragraph,
    Title,
    Slug,
    Url,
    Domain,
    ImageUrl,
    Ipv4,
    Uuid,
    HexColor,
    Hex,
    Currency,
}

const NAMES: &[(&str, FakeKind)] = &[
    ("name", FakeKind::Name),
    ("first_name", FakeKind::FirstName),
    ("last_name", FakeKind::LastName),
    ("email", FakeKind::Email),
    ("username", FakeKind::Username),
    ("password", FakeKind::Password),
    ("phone", FakeKind::Phone),
    ("city", FakeKind::City),
    ("country", FakeKind::Country),
    ("country_code", FakeKind::CountryCode),
    ("street", FakeKind::Street),
    ("address", FakeKind::Address),
    ("zip", FakeKind::ZipCode),
    ("state", FakeKind::State),
    ("company", FakeKind::Company),
    ("industry", FakeKind::Industry),
    ("job_title", FakeKind::JobTitle),
    ("catch_phrase", FakeKind::CatchPhrase),
    ("word", FakeKind::Word),
    ("words", FakeKind::Words),
    ("sentence", FakeKind::Sentence),
    ("paragraph", FakeKind::Paragraph),
    ("title", FakeKind::Title),
    ("slug", FakeKind::Slug),
    ("url", FakeKind::Url),
    ("domain", FakeKind::Domain),
    ("image_url", FakeKind::ImageUrl),
    ("ipv4", FakeKind::Ipv4),
    ("uuid", FakeKind::Uuid),
    ("color", FakeKind::HexColor),
    ("hex", FakeKind::Hex),
    ("currency", FakeKind::Currency),
];

impl FakeKind {
    pub fn parse(s: &str) -> Result<FakeKind, String> {
        if let Some((_, kind)) = NAMES.iter().find(|(n, _)| *n == s) {
            return Ok(*kind);
        }
        let hint = suggest(s, NAMES.iter().map(|(n, _)| *n))
            .map(|h| format!("did you mean \"{h}\"? "))
            .unwrap_or_default();
        let all: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
        Err(format!(
            "unknown fake \"{s}\" ({hint}available: {})",
            all.join(", ")
        ))
    }

    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }

    /// Kinds whose values cannot collide often enough to need suffixes (they are random ids).
    pub fn is_random_id(self) -> bool {
        matches!(self, FakeKind::Uuid | FakeKind::Hex | FakeKind::Password)
    }
}

/// The locales of the `fake` crate that dbenv exposes (`locale = "fr_fr"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    En,
    FrFr,
    DeDe,
    ItIt,
    PtBr,
    PtPt,
    NlNl,
    JaJp,
    ZhCn,
    ZhTw,
    ArSa,
    TrTr,
}

const LOCALES: &[(&str, Locale)] = &[
    ("en", Locale::En),
    ("fr_fr", Locale::FrFr),
    ("de_de", Locale::DeDe),
    ("it_it", Locale::ItIt),
    ("pt_br", Locale::PtBr),
    ("pt_pt", Locale::PtPt),
    ("nl_nl", Locale::NlNl),
    ("ja_jp", Locale::JaJp),
    ("zh_cn", Locale::ZhCn),
    ("zh_tw", Locale::ZhTw),
    ("ar_sa", Locale::ArSa),
    ("tr_tr", Locale::TrTr),
];

impl Locale {
    pub fn parse(s: &str) -> Result<Locale, String> {
        let norm = s.to_ascii_lowercase().replace('-', "_");
        let found = LOCALES.iter().find(|(n, _)| {
            *n == norm || n.split('_').next() == Some(norm.as_str()) && !norm.contains('_')
        });
        if let Some((_, l)) = found {
            return Ok(*l);
        }
        let all: Vec<&str> = LOCALES.iter().map(|(n, _)| *n).collect();
        Err(format!(
            "unknown locale \"{s}\" (available: {})",
            all.join(", ")
        ))
    }
}

/// Shape options that some kinds take (`words = [3, 8]`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape {
    pub words: Option<(u32, u32)>,
    pub sentences: Option<(u32, u32)>,
}

/// Generate one fake string.
pub fn generate<R: RngExt>(kind: FakeKind, locale: Locale, shape: Shape, rng: &mut R) -> String {
    match locale {
        Locale::En => text(kind, locales::EN, shape, rng),
        Locale::FrFr => text(kind, locales::FR_FR, shape, rng),
        Locale::DeDe => text(kind, locales::DE_DE, shape, rng),
        Locale::ItIt => text(kind, locales::IT_IT, shape, rng),
        Locale::PtBr => text(kind, locales::PT_BR, shape, rng),
        Locale::PtPt => text(kind, locales::PT_PT, shape, rng),
        Locale::NlNl => text(kind, locales::NL_NL, shape, rng),
        Locale::JaJp => text(kind, locales::JA_JP, shape, rng),
        Locale::ZhCn => text(kind, locales::ZH_CN, shape, rng),
        Locale::ZhTw => text(kind, locales::ZH_TW, shape, rng),
        Locale::ArSa => text(kind, locales::AR_SA, shape, rng),
        Locale::TrTr => text(kind, locales::TR_TR, shape, rng),
    }
}

fn range((lo, hi): (u32, u32)) -> std::ops::Range<usize> {
    lo as usize..hi as usize + 1
}

fn text<L: Data + Copy + CityNameGenFn, R: RngExt>(
    kind: FakeKind,
    l: L,
    shape: Shape,
    rng: &mut R,
) -> String {
    use FakeKind::*;
    match kind {
        Name => name::Name(l).fake_with_rng(rng),
        FirstName => name::FirstName(l).fake_with_rng(rng),
        LastName => name::LastName(l).fake_with_rng(rng),
        Email => internet::SafeEmail(l).fake_with_rng(rng),
        Username => internet::Username(l).fake_with_rng(rng),
        Password | Hex => hex_string(rng, 32),
        Phone => phone::PhoneNumber(l).fake_with_rng(rng),
        City => address::CityName(l).fake_with_rng(rng),
        Country => address::CountryName(l).fake_with_rng(rng),
        CountryCode => address::CountryCode(l).fake_with_rng(rng),
        Street => address::StreetName(l).fake_with_rng(rng),
        Address => {
            let number: String = address::BuildingNumber(l).fake_with_rng(rng);
            let street: String = address::StreetName(l).fake_with_rng(rng);
            format!("{number} {street}")
        }
        ZipCode => address::ZipCode(l).fake_with_rng(rng),
        State => address::StateName(l).fake_with_rng(rng),
        Company => company::CompanyName(l).fake_with_rng(rng),
        Industry => company::Industry(l).fake_with_rng(rng),
        JobTitle => job::Title(l).fake_with_rng(rng),
        CatchPhrase => company::CatchPhrase(l).fake_with_rng(rng),
        Word => lorem::Word(l).fake_with_rng(rng),
        Words => {
            let words: Vec<String> =
                lorem::Words(l, range(shape.words.unwrap_or((2, 4)))).fake_with_rng(rng);
            words.join(" ")
        }
        Sentence => lorem::Sentence(l, range(shape.words.unwrap_or((4, 12)))).fake_with_rng(rng),
        Paragraph => {
            lorem::Paragraph(l, range(shape.sentences.unwrap_or((2, 5)))).fake_with_rng(rng)
        }
        Title => {
            let words: Vec<String> =
                lorem::Words(l, range(shape.words.unwrap_or((2, 5)))).fake_with_rng(rng);
            capitalise(&words.join(" "))
        }
        Slug => {
            let words: Vec<String> =
                lorem::Words(l, range(shape.words.unwrap_or((2, 4)))).fake_with_rng(rng);
            words.join("-").to_lowercase()
        }
        Domain => domain(l, rng),
        Url => {
            let path: String = lorem::Word(l).fake_with_rng(rng);
            format!("https://{}/{path}", domain(l, rng))
        }
        ImageUrl => format!("https://images.example.com/{}.jpg", hex_string(rng, 12)),
        Ipv4 => format!(
            "{}.{}.{}.{}",
            rng.random_range(1..=223u8),
            rng.random::<u8>(),
            rng.random::<u8>(),
            rng.random_range(1..=254u8)
        ),
        Uuid => uuid_v4(rng),
        HexColor => format!("#{:06x}", rng.random_range(0..0x100_0000u32)),
        Currency => [
            "EUR", "USD", "GBP", "JPY", "CHF", "CAD", "AUD", "BRL", "INR", "CNY",
        ][rng.random_range(0..10)]
        .to_string(),
    }
}

fn domain<L: Data + Copy, R: RngExt>(l: L, rng: &mut R) -> String {
    let word: String = lorem::Word(l).fake_with_rng(rng);
    let suffix: String = internet::DomainSuffix(l).fake_with_rng(rng);
    format!("{}.{suffix}", word.to_lowercase())
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn hex_string<R: RngExt>(rng: &mut R, len: usize) -> String {
    (0..len)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).expect("< 16"))
        .collect()
}

/// A random (version 4) UUID drawn from the seeded generator, so it is reproducible.
pub fn uuid_v4<R: RngExt>(rng: &mut R) -> String {
    let mut b: [u8; 16] = rng.random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The fake a column's name suggests, in the context of its table, if any.
///
/// ```
/// use dbenv::seed::fakes::{infer, FakeKind};
/// assert_eq!(infer("users", "email"), Some(FakeKind::Email));
/// assert_eq!(infer("organisations", "name"), Some(FakeKind::Company));
/// assert_eq!(infer("tasks", "body"), Some(FakeKind::Paragraph));
/// ```
pub fn infer(table: &str, column: &str) -> Option<FakeKind> {
    use FakeKind::*;
    let c = column.to_ascii_lowercase();
    let t = table.to_ascii_lowercase();
    let has = |words: &[&str]| {
        words
            .iter()
            .any(|w| c == *w || c.ends_with(&format!("_{w}")) || c.starts_with(&format!("{w}_")))
    };
    Some(match () {
        _ if c.contains("email") => Email,
        _ if has(&["username", "login", "handle", "nickname"]) => Username,
        _ if has(&["first_name", "firstname", "given_name"]) => FirstName,
        _ if has(&["last_name", "lastname", "surname", "family_name"]) => LastName,
        _ if has(&[
            "password",
            "password_hash",
            "token",
            "secret",
            "api_key",
            "hash",
        ]) =>
        {
            Hex
        }
        _ if has(&["phone", "mobile", "telephone", "tel", "fax"]) => Phone,
        _ if has(&["city", "town"]) => City,
        _ if has(&["country_code"]) => CountryCode,
        _ if has(&["country"]) => Country,
        _ if has(&["street", "address", "address_line"]) => Address,
        _ if has(&["zip", "zipcode", "postcode", "postal_code"]) => ZipCode,
        _ if has(&["state", "region", "province"]) => State,
        _ if has(&["company", "employer", "organisation", "organization"]) => Company,
        _ if has(&["industry"]) => Industry,
        _ if has(&["job", "job_title", "position_title", "occupation"]) => JobTitle,
        _ if has(&[
            "avatar",
            "avatar_url",
            "image",
            "image_url",
            "photo",
            "picture",
            "thumbnail",
        ]) =>
        {
            ImageUrl
        }
        _ if has(&["url", "website", "homepage", "link", "href"]) => Url,
        _ if has(&["domain", "hostname", "host"]) => Domain,
        _ if has(&["ip", "ip_address"]) => Ipv4,
        _ if has(&["uuid", "guid"]) => Uuid,
        _ if has(&["slug", "key", "code"]) => Slug,
        _ if has(&["color", "colour"]) => HexColor,
        _ if has(&["currency"]) => Currency,
        _ if has(&["tagline", "motto", "slogan"]) => CatchPhrase,
        _ if has(&["title", "subject", "headline", "summary", "label"]) => Sentence,
        _ if has(&[
            "description",
            "body",
            "content",
            "bio",
            "about",
            "text",
            "note",
            "notes",
            "comment",
            "message",
            "details",
        ]) =>
        {
            Paragraph
        }
        _ if c == "name" || c.ends_with("_name") || c == "display_name" => name_for_table(&t),
        _ => return None,
    })
}

fn name_for_table(table: &str) -> FakeKind {
    let people = [
        "user",
        "person",
        "people",
        "member",
        "customer",
        "employee",
        "author",
        "contact",
        "student",
        "patient",
        "client",
        "account_holder",
    ];
    let orgs = [
        "org", "compan", "team", "account", "tenant", "vendor", "supplier", "business",
    ];
    if people.iter().any(|p| table.contains(p)) {
        FakeKind::Name
    } else if orgs.iter().any(|o| table.contains(o)) {
        FakeKind::Company
    } else {
        FakeKind::Title
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_named_kind_generates_a_non_empty_value_in_every_locale() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for (_, locale) in LOCALES {
            for (name, kind) in NAMES {
                let v = generate(*kind, *locale, Shape::default(), &mut rng);
                assert!(!v.is_empty(), "{name} in {locale:?}");
            }
        }
    }

    #[test]
    fn same_seed_same_values() {
        let generator = |seed| {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            (0..20)
                .map(|_| generate(FakeKind::Email, Locale::En, Shape::default(), &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(generator(7), generator(7));
        assert_ne!(generator(7), generator(8));
    }

    #[test]
    fn unknown_names_get_a_suggestion() {
        let err = FakeKind::parse("emial").unwrap_err();
        assert!(
            err.starts_with("unknown fake \"emial\" (did you mean \"email\"?"),
            "{err}"
        );
        assert!(Locale::parse("fr").is_ok() && Locale::parse("pt_BR").is_ok());
        assert!(
            Locale::parse("xx")
                .unwrap_err()
                .contains("available: en, fr_fr")
        );
    }

    #[test]
    fn uuids_are_version_4() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let u = uuid_v4(&mut rng);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }
}
