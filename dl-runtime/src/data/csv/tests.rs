use super::*;

const PENGUINS: &str = "\
species,island,bill_length_mm,bill_depth_mm,sex
Adelie,Torgersen,39.1,18.7,male
Gentoo,Biscoe,46.1,13.2,female
Adelie,Dream,NA,17.9,female
Chinstrap,Dream,46.5,17.9,female
";

fn penguins<'a>() -> Options<'a> {
    Options {
        label: Column::Name("species"),
        features: Some(&[Column::Name("bill_depth_mm"), Column::Name("bill_length_mm")]),
        missing: Missing::SkipRow,
        ..Options::default()
    }
}

fn message<T: std::fmt::Debug>(r: Result<T>) -> String {
    r.expect_err("the file was read").to_string()
}

#[test]
fn classes_are_sorted_names_and_features_follow_the_order_asked() {
    let t: Table<2, usize> = read_bytes(PENGUINS.as_bytes(), &penguins()).unwrap();
    assert_eq!(t.classes, ["Adelie", "Chinstrap", "Gentoo"]);
    assert_eq!(t.y, [0, 2, 1]);
    assert_eq!(t.feature_names, ["bill_depth_mm", "bill_length_mm"]);
    assert_eq!(t.label_name, "species");
    assert_eq!(t.x[1], SVector::from([13.2, 46.1]));
    assert_eq!(t.skipped, [4], "the row with NA is line 4");
}

#[test]
fn given_classes_fix_the_indices_and_refuse_others() {
    let opts = Options {
        classes: Some(&["Gentoo", "Adelie", "Chinstrap"]),
        ..penguins()
    };
    let t: Table<2, usize> = read_bytes(PENGUINS.as_bytes(), &opts).unwrap();
    assert_eq!(t.y, [1, 0, 2]);
    assert_eq!(t.classes, ["Gentoo", "Adelie", "Chinstrap"]);
    let opts = Options {
        classes: Some(&["Adelie", "Gentoo"]),
        ..penguins()
    };
    let e = message(read_bytes::<2, usize>(PENGUINS.as_bytes(), &opts));
    assert!(
        e.contains("line 5, column `species`: unknown class `Chinstrap`"),
        "{e}"
    );
}

#[test]
fn values_without_a_header_by_index_and_another_delimiter() {
    let data = "1;2;0.5\n3;4;-1.5e1\n";
    let opts = Options {
        header: false,
        delimiter: b';',
        label: Column::Index(2),
        ..Options::default()
    };
    let t: Table<2, f32> = read_bytes(data.as_bytes(), &opts).unwrap();
    assert_eq!(t.y, [0.5, -15.0]);
    assert_eq!(t.x, [SVector::from([1.0, 2.0]), SVector::from([3.0, 4.0])]);
    assert!(t.classes.is_empty());
    assert_eq!(t.feature_names, ["0", "1"]);
}

#[test]
fn a_missing_cell_is_an_error_naming_line_and_column_by_default() {
    let opts = Options {
        missing: Missing::Error,
        ..penguins()
    };
    let e = message(read_bytes::<2, usize>(PENGUINS.as_bytes(), &opts));
    assert!(
        e.contains("<bytes>: line 4, column `bill_length_mm`: missing value `NA`"),
        "{e}"
    );
    // An empty cell is missing too, and so is a missing label.
    let data = "a,b,y\n1,,x\n";
    let e = message(read_bytes::<2, usize>(data.as_bytes(), &Options::default()));
    assert!(e.contains("line 2, column `b`: missing value ``"), "{e}");
    let data = "a,b,y\n1,2,NA\n";
    let e = message(read_bytes::<2, usize>(data.as_bytes(), &Options::default()));
    assert!(e.contains("line 2, column `y`: missing value `NA`"), "{e}");
}

#[test]
fn a_cell_that_is_not_a_finite_number_is_an_error_naming_line_and_column() {
    for (cell, shown) in [("abc", "abc"), ("inf", "inf"), ("1e39", "1e39"), ("1,5", "1,5")] {
        let data = format!("a,b,y\n1,2,x\n3,\"{cell}\",y\n");
        let e = message(read_bytes::<2, usize>(data.as_bytes(), &Options::default()));
        assert!(
            e.contains(&format!("line 3, column `b`: `{shown}` is not a number")),
            "{cell}: {e}"
        );
    }
    let e = message(read_bytes::<2, f32>(b"a,b,y\n1,2,big\n", &Options::default()));
    assert!(
        e.contains("line 2, column `y`: label `big` is not a number"),
        "{e}"
    );
}

#[test]
fn a_ragged_row_is_an_error_naming_its_line() {
    let data = "a,b,y\n1,2,x\n1,2\n";
    let e = message(read_bytes::<2, usize>(data.as_bytes(), &Options::default()));
    assert!(e.contains("line 3 has 2 fields, but the first row has 3"), "{e}");
    let data = "a,b,y\n1,2,x,4\n";
    let e = message(read_bytes::<2, usize>(data.as_bytes(), &Options::default()));
    assert!(e.contains("line 2 has 4 fields"), "{e}");
}

#[test]
fn quoted_fields_may_hold_delimiters_and_newlines_and_lines_stay_true() {
    let data = "a,b,y\n1,2,\"x, the\nfirst\"\n3,oops,y\n";
    let t = read_bytes::<2, usize>(b"a,b,y\n1,2,\"x, y\"\n", &Options::default()).unwrap();
    assert_eq!(t.classes, ["x, y"]);
    let e = message(read_bytes::<2, usize>(data.as_bytes(), &Options::default()));
    assert!(e.contains("line 4, column `b`: `oops`"), "{e}");
}

#[test]
fn a_feature_count_other_than_the_samples_names_both() {
    let e = message(read_bytes::<3, usize>(PENGUINS.as_bytes(), &Options::default()));
    assert!(
        e.contains("the samples take 3 features (SVector<f32, 3>), but 4 feature columns were chosen"),
        "{e}"
    );
    assert!(e.contains("\"species\", \"island\""), "{e}");
}

#[test]
fn columns_that_do_not_exist_or_clash_are_errors() {
    let cases: [(Options<'_>, &str); 5] = [
        (
            Options {
                label: Column::Name("kind"),
                ..Options::default()
            },
            "the label column `kind` is not in the header",
        ),
        (
            Options {
                label: Column::Index(9),
                ..Options::default()
            },
            "the label column 9 is past the file's 3 columns",
        ),
        (
            Options {
                header: false,
                label: Column::Name("y"),
                ..Options::default()
            },
            "the label column `y` is a name, but Options::header is false",
        ),
        (
            Options {
                features: Some(&[Column::Name("a"), Column::Name("y")]),
                label: Column::Name("y"),
                ..Options::default()
            },
            "column `y` is both the label and a feature",
        ),
        (
            Options {
                features: Some(&[Column::Index(0), Column::Name("a")]),
                ..Options::default()
            },
            "feature column `a` is listed twice",
        ),
    ];
    for (opts, want) in cases {
        let e = message(read_bytes::<2, usize>(b"a,b,y\n1,2,x\n", &opts));
        assert!(e.contains(want), "{want}: {e}");
    }
}

#[test]
fn empty_files_header_only_files_and_all_missing_files_are_errors() {
    let e = message(read_bytes::<2, usize>(b"", &Options::default()));
    assert!(e.contains("empty"), "{e}");
    let e = message(read_bytes::<2, usize>(b"a,b,y\n", &Options::default()));
    assert!(e.contains("no rows after the header"), "{e}");
    let opts = Options {
        missing: Missing::SkipRow,
        ..Options::default()
    };
    let e = message(read_bytes::<2, usize>(b"a,b,y\nNA,1,x\n", &opts));
    assert!(e.contains("no rows left: all 1 rows have a missing value"), "{e}");
}

#[test]
fn invalid_utf8_is_an_error_naming_its_line() {
    let e = message(read_bytes::<2, usize>(b"a,b,y\n1,2,\xff\n", &Options::default()));
    assert!(e.contains("line 2, field 3: not valid UTF-8"), "{e}");
}

#[test]
fn files_past_the_cap_and_non_regular_files_are_refused() {
    let dir = std::env::temp_dir().join(format!("dl-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("small.csv");
    std::fs::write(&path, "a,b,y\n1,2,x\n").unwrap();
    let t: Table<2, usize> = read(&path, &Options::default()).unwrap();
    assert_eq!(t.y, [0]);
    let opts = Options {
        max_bytes: 8,
        ..Options::default()
    };
    let e = message(read::<2, usize>(&path, &opts));
    assert!(e.contains("small.csv: larger than 8 bytes"), "{e}");
    let e = message(read::<2, usize>(&dir, &Options::default()));
    assert!(e.contains("a directory, not a regular file"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
