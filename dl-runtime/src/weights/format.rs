//! The safetensors container, read and written by hand (with `serde_json` for the JSON).
//!
//! A file is an 8-byte little-endian header size `N`, `N` bytes of UTF-8 JSON (padded with
//! spaces), and the data section. The header maps each tensor name to its `dtype`, `shape` and
//! `data_offsets` (`[begin, end)` within the data section), and may hold a `__metadata__` object
//! of strings. The data of the tensors covers the data section exactly: no overlaps, no holes.
//!
//! The reader trusts nothing in the file: every size it declares is checked against the real
//! length of the buffer before use, nothing is allocated by a declared size, every offset is
//! checked before slicing, and each problem comes back as a message that names it.

use core::fmt;
use std::collections::HashSet;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The largest header accepted, as the reference implementation (100 MB).
pub(crate) const MAX_HEADER: u64 = 100_000_000;

/// One tensor of a parsed file; `data` is checked to hold exactly `shape` of `dtype`.
#[derive(Debug)]
pub(crate) struct Tensor<'a> {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<usize>,
    pub data: &'a [u8],
}

/// A parsed and validated file: the metadata and the tensors in header order.
#[derive(Debug, Default)]
pub(crate) struct Parsed<'a> {
    pub metadata: Vec<(String, String)>,
    pub tensors: Vec<Tensor<'a>>,
}

impl Parsed<'_> {
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// `[2, 3]`.
pub(crate) fn shape_str(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    format!("[{}]", dims.join(", "))
}

/// Bits per element of the safetensors dtypes.
fn dtype_bits(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" | "C64" => 64,
        _ => return None,
    })
}

/// Parses and validates a whole file. `max_header` caps the declared header size.
pub(crate) fn parse(bytes: &[u8], max_header: u64) -> Result<Parsed<'_>, String> {
    let Some((size, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(format!(
            "the file is {} bytes long, too short for the 8-byte header size of a safetensors file",
            bytes.len()
        ));
    };
    let n = u64::from_le_bytes(*size);
    if n > max_header {
        return Err(format!(
            "the header size field declares {n} bytes, more than the {max_header} a safetensors header may have \
             (not a safetensors file?)"
        ));
    }
    if n > rest.len() as u64 {
        return Err(format!(
            "the header size field declares {n} bytes but only {} bytes follow it (truncated file?)",
            rest.len()
        ));
    }
    let (header, data) = rest.split_at(n as usize);
    let header = core::str::from_utf8(header).map_err(|e| format!("the header is not valid UTF-8: {e}"))?;
    let mut json = serde_json::Deserializer::from_str(header);
    let parsed = HeaderSeed
        .deserialize(&mut json)
        .and_then(|h| json.end().map(|()| h))
        .map_err(|e| format!("invalid header: {e}"))?;

    let mut spans = Vec::with_capacity(parsed.tensors.len());
    let mut tensors = Vec::with_capacity(parsed.tensors.len());
    for (name, info) in parsed.tensors {
        let Info {
            dtype,
            shape,
            offsets: [begin, end],
        } = info;
        let Some(bits) = dtype_bits(&dtype) else {
            return Err(format!("tensor `{name}` has an unknown dtype `{dtype}`"));
        };
        if begin > end {
            return Err(format!(
                "tensor `{name}`: data_offsets [{begin}, {end}] are reversed"
            ));
        }
        if end > data.len() as u64 {
            return Err(format!(
                "tensor `{name}`: data_offsets [{begin}, {end}] reach past the end of the data section, which \
                 has {} bytes (truncated file?)",
                data.len()
            ));
        }
        let dims = || shape.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
        let elements = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
        let Some(bits_total) = elements.and_then(|e| e.checked_mul(bits)) else {
            return Err(format!(
                "tensor `{name}`: shape [{}] has too many elements",
                dims()
            ));
        };
        if bits_total % 8 != 0 {
            return Err(format!(
                "tensor `{name}`: shape [{}] of {dtype} does not fill whole bytes",
                dims()
            ));
        }
        if bits_total / 8 != end - begin {
            return Err(format!(
                "tensor `{name}`: shape [{}] of {dtype} takes {} bytes but data_offsets [{begin}, {end}] hold {}",
                dims(),
                bits_total / 8,
                end - begin
            ));
        }
        // Both fit in usize: `end` is within `data`, and every dimension divides the element
        // count, which is at most the data length.
        let shape = shape.iter().map(|&d| d as usize).collect();
        let (b, e) = (begin as usize, end as usize);
        spans.push((b, e, tensors.len()));
        tensors.push(Tensor {
            name,
            dtype,
            shape,
            data: &data[b..e],
        });
    }

    // The tensors must cover the data section exactly.
    spans.sort_unstable();
    let mut at = 0;
    for (k, &(b, e, i)) in spans.iter().enumerate() {
        if b < at {
            let (pb, pe, p) = spans[k - 1];
            return Err(format!(
                "the data of tensors `{}` [{pb}, {pe}) and `{}` [{b}, {e}) overlap",
                tensors[p].name, tensors[i].name
            ));
        }
        if b > at {
            return Err(format!("data bytes [{at}, {b}) belong to no tensor"));
        }
        at = e;
    }
    if at < data.len() {
        return Err(format!(
            "data bytes [{at}, {}) after the last tensor belong to no tensor",
            data.len()
        ));
    }
    Ok(Parsed {
        metadata: parsed.metadata,
        tensors,
    })
}

/// Writes a file: the metadata first, then the tensors in the order given, all as F32.
pub(crate) fn write(metadata: &[(&str, String)], tensors: &[(String, Vec<usize>, &[f32])]) -> Vec<u8> {
    let quote = |s: &str| serde_json::to_string(s).expect("a string serialises");
    let mut header = String::from("{");
    if !metadata.is_empty() {
        header.push_str("\"__metadata__\":{");
        for (i, (k, v)) in metadata.iter().enumerate() {
            if i > 0 {
                header.push(',');
            }
            header.push_str(&format!("{}:{}", quote(k), quote(v)));
        }
        header.push('}');
    }
    let mut offset = 0usize;
    for (i, (name, shape, values)) in tensors.iter().enumerate() {
        if i > 0 || !metadata.is_empty() {
            header.push(',');
        }
        let end = offset + 4 * values.len();
        let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
        header.push_str(&format!(
            "{}:{{\"dtype\":\"F32\",\"shape\":[{}],\"data_offsets\":[{offset},{end}]}}",
            quote(name),
            dims.join(",")
        ));
        offset = end;
    }
    header.push('}');
    // Pad with spaces so that the data section starts 8-byte aligned, as the reference does.
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut out = Vec::with_capacity(8 + header.len() + offset);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for (_, _, values) in tensors {
        for v in *values {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

// ---- The header's JSON, with duplicate names rejected (serde's maps keep the last silently).

struct Info {
    dtype: String,
    shape: Vec<u64>,
    offsets: [u64; 2],
}

struct Header {
    metadata: Vec<(String, String)>,
    tensors: Vec<(String, Info)>,
}

struct HeaderSeed;

impl<'de> DeserializeSeed<'de> for HeaderSeed {
    type Value = Header;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Header, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HeaderSeed {
    type Value = Header;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a safetensors header (a JSON object of tensors)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header, A::Error> {
        let mut seen = HashSet::new();
        let mut header = Header {
            metadata: Vec::new(),
            tensors: Vec::new(),
        };
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format_args!("duplicate tensor name `{key}`")));
            }
            if key == "__metadata__" {
                header.metadata = map.next_value_seed(MetadataSeed)?;
            } else {
                let info = map.next_value_seed(InfoSeed { name: &key })?;
                header.tensors.push((key, info));
            }
        }
        Ok(header)
    }
}

/// `__metadata__`: an object of strings (or null).
struct MetadataSeed;

impl<'de> DeserializeSeed<'de> for MetadataSeed {
    type Value = Vec<(String, String)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for MetadataSeed {
    type Value = Vec<(String, String)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`__metadata__` as an object of strings")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out: Vec<(String, String)> = Vec::new();
        // A set, not a search of `out`: the check stays linear in the header's size (a header
        // of 100 000 keys took 25 s to search pairwise).
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format_args!(
                    "`__metadata__` has `{key}` twice"
                )));
            }
            let value = map.next_value_seed(StrSeed(&format!("`__metadata__.{key}` as a string")))?;
            out.push((key, value));
        }
        Ok(out)
    }
}

/// One tensor's entry.
struct InfoSeed<'k> {
    name: &'k str,
}

impl<'de> DeserializeSeed<'de> for InfoSeed<'_> {
    type Value = Info;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Info, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for InfoSeed<'_> {
    type Value = Info;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "tensor `{}` as an object with dtype, shape and data_offsets",
            self.name
        )
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Info, A::Error> {
        let name = self.name;
        let (mut dtype, mut shape, mut offsets) = (None, None, None);
        while let Some(key) = map.next_key::<String>()? {
            let twice = || de::Error::custom(format_args!("tensor `{name}` has `{key}` twice"));
            match key.as_str() {
                "dtype" if dtype.is_some() => return Err(twice()),
                "shape" if shape.is_some() => return Err(twice()),
                "data_offsets" if offsets.is_some() => return Err(twice()),
                "dtype" => {
                    dtype = Some(map.next_value_seed(StrSeed(&format!("the dtype of tensor `{name}`")))?)
                }
                "shape" => shape = Some(map.next_value_seed(ShapeSeed { name })?),
                "data_offsets" => offsets = Some(map.next_value_seed(OffsetsSeed { name })?),
                // Unknown fields are ignored, as the reference implementation does.
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let missing = |field| de::Error::custom(format_args!("tensor `{name}` has no `{field}`"));
        Ok(Info {
            dtype: dtype.ok_or_else(|| missing("dtype"))?,
            shape: shape.ok_or_else(|| missing("shape"))?,
            offsets: offsets.ok_or_else(|| missing("data_offsets"))?,
        })
    }
}

/// A string, with `expecting` naming what it is.
struct StrSeed<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for StrSeed<'_> {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_string(self)
    }
}

impl<'de> Visitor<'de> for StrSeed<'_> {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
}

/// A non-negative integer, with `expecting` naming what it is.
struct U64Seed<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for U64Seed<'_> {
    type Value = u64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_u64(self)
    }
}

impl<'de> Visitor<'de> for U64Seed<'_> {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }
}

struct ShapeSeed<'k> {
    name: &'k str,
}

impl<'de> DeserializeSeed<'de> for ShapeSeed<'_> {
    type Value = Vec<u64>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<u64>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ShapeSeed<'_> {
    type Value = Vec<u64>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "the shape of tensor `{}` as an array of integers", self.name)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u64>, A::Error> {
        let what = format!("a dimension of tensor `{}` (a non-negative integer)", self.name);
        let mut dims = Vec::new();
        while let Some(d) = seq.next_element_seed(U64Seed(&what))? {
            dims.push(d);
        }
        Ok(dims)
    }
}

struct OffsetsSeed<'k> {
    name: &'k str,
}

impl<'de> DeserializeSeed<'de> for OffsetsSeed<'_> {
    type Value = [u64; 2];
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<[u64; 2], D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for OffsetsSeed<'_> {
    type Value = [u64; 2];
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "the data_offsets of tensor `{}` as two integers", self.name)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<[u64; 2], A::Error> {
        let what = format!("a data offset of tensor `{}` (a non-negative integer)", self.name);
        let begin = seq
            .next_element_seed(U64Seed(&what))?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let end = seq
            .next_element_seed(U64Seed(&what))?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(de::Error::custom(format_args!(
                "the data_offsets of tensor `{}` have more than two entries",
                self.name
            )));
        }
        Ok([begin, end])
    }
}
