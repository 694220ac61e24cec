//! Consumer presets: the vendor facts in one place, so a vendor changing an account id is a one-line change.
//! Values come from the vendors' public modules (see the project reference).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Generic,
    Forticnapp,
    Rad,
}

/// What a preset fills in when the spec leaves it out.
pub struct PresetDefaults {
    pub account_id: Option<&'static str>,
    pub principal_arn: Option<&'static str>,
}

impl Preset {
    pub const ALL: &'static [Preset] = &[Preset::Generic, Preset::Forticnapp, Preset::Rad];

    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Generic => "generic",
            Preset::Forticnapp => "forticnapp",
            Preset::Rad => "rad",
        }
    }

    pub fn parse(s: &str) -> Option<Preset> {
        Preset::ALL.iter().copied().find(|p| p.as_str() == s)
    }

    pub fn defaults(self) -> PresetDefaults {
        match self {
            Preset::Generic => PresetDefaults { account_id: None, principal_arn: None },
            Preset::Forticnapp => PresetDefaults {
                account_id: Some("434813966438"),
                principal_arn: Some("arn:aws:iam::434813966438:role/lacework-platform"),
            },
            Preset::Rad => PresetDefaults {
                account_id: Some("955322216602"),
                principal_arn: Some("arn:aws:iam::955322216602:role/ksoc-data-pipeline"),
            },
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
