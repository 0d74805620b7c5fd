//! fastai 2.x's LR suggestion rules (`fastai/callback/schedule.py`: `valley`, `steep`, `minimum`,
//! `slide`), ported line by line, quirks included, so that a suggestion means what it means there.
//!
//! fastai's `Learner.lr_find` evaluates them on the *smoothed* losses after trimming the first
//! `num_it // 10` points (the LR is still too small to move the loss, and the EMA is still warming
//! up) and the last 5 (the blow-up): `lrs[num_it//10:-5]`. [`suggest`] does the same with
//! `num_it = curve.num_steps`, and returns `None` where fastai would fail on a too-short window.

use super::{RangeTestCurve, Suggestion};

/// fastai's defaults for `slide`.
const SLIDE_LR_DIFF: usize = 15;
const SLIDE_THRESH: f64 = 0.005;
const SLIDE_ADJUST_VALUE: f64 = 1.0;
/// Points fastai drops from the end before suggesting.
const TRIM_END: usize = 5;

/// The `(lrs, smoothed losses)` fastai's rules see: `[num_steps / 10 .. len − 5]`, empty when the
/// curve is shorter than that.
pub fn suggestion_window(curve: &RangeTestCurve) -> (&[f64], &[f64]) {
    let len = curve.lrs.len().min(curve.smoothed.len());
    let start = curve.num_steps / 10;
    let end = len.saturating_sub(TRIM_END).max(start).min(len);
    let start = start.min(end);
    (&curve.lrs[start..end], &curve.smoothed[start..end])
}

/// The LR that rule `which` suggests for `curve`, or `None` when its window is too short.
pub fn suggest(curve: &RangeTestCurve, which: Suggestion) -> Option<f64> {
    let (lrs, losses) = suggestion_window(curve);
    match which {
        Suggestion::Valley => valley(lrs, losses),
        Suggestion::Steep => steep(lrs, losses),
        Suggestion::Minimum => minimum(lrs, losses),
        Suggestion::Slide => slide(lrs, losses),
    }
}

/// fastai `valley`: the longest decreasing subsequence of the losses (O(n²) DP), then the point
/// ~half way into it. `None` for an empty curve.
///
/// Quirks kept from fastai: the valley's start is recorded when its end first becomes the longest
/// and not updated as that length grows, and it can be −1 (a Python index that wraps to the last point).
pub fn valley(lrs: &[f64], losses: &[f64]) -> Option<f64> {
    let n = losses.len().min(lrs.len());
    if n == 0 {
        return None;
    }
    let (mut max_start, mut max_end) = (0i64, 0usize);
    let mut lds = vec![1usize; n];
    for i in 1..n {
        for j in 0..i {
            if losses[i] < losses[j] && lds[i] < lds[j] + 1 {
                lds[i] = lds[j] + 1;
            }
            if lds[max_end] < lds[i] {
                max_end = i;
                max_start = max_end as i64 - lds[max_end] as i64;
            }
        }
    }
    let sections = (max_end as i64 - max_start) as f64 / 3.0;
    // Python's int() truncates toward zero, as `as` does.
    let idx = max_start + sections as i64 + (sections / 2.0) as i64;
    Some(lrs[python_index(idx, n)?])
}

/// fastai `steep`: the LR at the left end of the steepest forward difference of loss against
/// ln(LR). `None` with fewer than 2 points.
///
/// fastai uses forward differences here (not `numpy.gradient`, which only `slide` uses); the log
/// base does not change which difference is steepest.
pub fn steep(lrs: &[f64], losses: &[f64]) -> Option<f64> {
    let n = losses.len().min(lrs.len());
    if n < 2 {
        return None;
    }
    let grads = (0..n - 1).map(|i| (losses[i + 1] - losses[i]) / (lrs[i + 1].ln() - lrs[i].ln()));
    Some(lrs[argmin(grads)?])
}

/// fastai `minimum`: one tenth of the LR at the lowest loss. `None` for an empty curve.
pub fn minimum(lrs: &[f64], losses: &[f64]) -> Option<f64> {
    let n = losses.len().min(lrs.len());
    Some(lrs[argmin(losses[..n].iter().copied())?] / 10.0)
}

/// fastai `slide` (lr_diff = 15, thresh = 0.005, adjust_value = 1): walk a pair of points 15
/// apart down from the end while the loss gradients (`numpy.gradient`, per index) at the two ends
/// differ by more than `thresh`; suggest the left end's LR where they stop. `None` with fewer than
/// 16 points, where fastai raises an IndexError.
pub fn slide(lrs: &[f64], losses: &[f64]) -> Option<f64> {
    let n = losses.len().min(lrs.len());
    if n < SLIDE_LR_DIFF + 1 {
        return None;
    }
    let grad = numpy_gradient(&losses[..n]);
    // Python's negative indices r_idx = -1, l_idx = -16 become n−1 and n−16.
    let (mut r, mut l) = (n as i64 - 1, n as i64 - 1 - SLIDE_LR_DIFF as i64);
    let mut local_min_lr = lrs[l as usize];
    while l >= 0 && (grad[r as usize] - grad[l as usize]).abs() > SLIDE_THRESH {
        local_min_lr = lrs[l as usize];
        r -= 1;
        l -= 1;
    }
    Some(local_min_lr * SLIDE_ADJUST_VALUE)
}

/// `numpy.gradient(y)` with unit spacing: central differences inside, one-sided at the ends.
fn numpy_gradient(y: &[f64]) -> Vec<f64> {
    let n = y.len();
    (0..n)
        .map(|i| match i {
            0 => y[1] - y[0],
            i if i == n - 1 => y[n - 1] - y[n - 2],
            i => (y[i + 1] - y[i - 1]) / 2.0,
        })
        .collect()
}

/// Index of the first smallest value (numpy / torch `argmin`); NaN never wins.
fn argmin(values: impl Iterator<Item = f64>) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, v) in values.enumerate() {
        if best.is_none_or(|(_, b)| v < b) {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
}

/// A Python list index (negative counts from the end) as a Rust one.
fn python_index(idx: i64, len: usize) -> Option<usize> {
    let idx = if idx < 0 { idx + len as i64 } else { idx };
    usize::try_from(idx).ok().filter(|&i| i < len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made curve and what fastai's own functions return for it.
    struct FastaiCase {
        name: &'static str,
        num_it: usize,
        lrs: &'static [f64],
        losses: &'static [f64],
        valley: Option<f64>,
        steep: Option<f64>,
        minimum: Option<f64>,
        slide: Option<f64>,
    }

    // Generated by src/lrfind/fixtures/make_suggest_fixture.py; do not edit by hand.
    const FASTAI_CASES: &[FastaiCase] = &[
        FastaiCase {
            name: "shaped",
            num_it: 60,
            lrs: &[
                1e-06,
                1.3141473626117563e-06,
                1.7269832906594347e-06,
                2.269510536694669e-06,
                2.9824712862168905e-06,
                3.919406774847219e-06,
                5.1506780761681235e-06,
                6.768750009458534e-06,
                8.895134973108232e-06,
                1.1689518164985782e-05,
                1.5361749466718277e-05,
                2.0187602546790388e-05,
                2.6529484644318966e-05,
                3.486365227678085e-05,
                4.5815976690544915e-05,
                6.0208944933361284e-05,
                7.912342618981321e-05,
                0.00010397984184814901,
                0.0001366448349295326,
                0.00017957144943716392,
                0.00023598334667821936,
                0.0003101168926574778,
                0.0004075392965871776,
                0.00053556669177069,
                0.0007038135554931558,
                0.000924914727721733,
                0.0012154742500762863,
                0.0015973122800602543,
                0.0020991037201085546,
                0.0027585316176291837,
                0.0036251170499885313,
                0.004763938010401344,
                0.00626051657201482,
                0.008227241341700463,
                0.010811807510766082,
                0.014208308325339215,
                0.018671810912919213,
                0.02453751106639817,
                0.03224590545296392,
                0.04237587160604064,
                0.05568813990945267,
                0.07318242219076179,
                0.0961724871115296,
                0.12638482029342968,
                0.16608827826277156,
                0.2182644728397486,
                0.2868316813342012,
                0.37693909753883603,
                0.49535352089591744,
                0.6509675230458171,
                0.8554672535565676,
                1.124210035062087,
                1.4773776525985107,
                1.9414919457438824,
                2.5514065200312888,
                3.3529241492495543,
                4.406236427773575,
                5.790443980602484,
                7.609496685459883,
                10.0,
            ],
            losses: &[
                2.298579237532814,
                2.307114778477308,
                2.289434206673389,
                2.2703146415873863,
                2.2825994008844237,
                2.2654860512711745,
                2.2957685972226054,
                2.3325620745213556,
                2.2755546014080794,
                2.269134259383472,
                2.2991945440829706,
                2.291105581069343,
                2.278393413461862,
                2.240813341490311,
                2.259681335866435,
                2.271183435049099,
                2.197213901455211,
                2.207904234483453,
                2.144895382444537,
                2.1389909570166883,
                2.092778198412141,
                2.1050590759037107,
                2.031034737879456,
                2.0262466067222165,
                1.9634240503544358,
                1.8851009940147065,
                1.7388702720725877,
                1.714449755442584,
                1.6394936106199258,
                1.5508820651118023,
                1.4068025362447518,
                1.344924953377627,
                1.240275135420663,
                1.1616595096059046,
                1.1414985492808456,
                1.017549500429527,
                0.9815733284037288,
                0.9583501006582356,
                0.871553278233762,
                0.8501923225957645,
                0.8277504575085278,
                0.8028223215155939,
                0.7454356375616329,
                0.7698815227508355,
                0.7973509731444779,
                0.7023227840916481,
                0.769559372656982,
                0.7451724431282152,
                0.7229881720448906,
                0.8059585982968008,
                0.7760770059898859,
                0.7288004507120426,
                0.7840051801294498,
                0.8230564224396448,
                0.8332534625103093,
                0.9047216938839784,
                0.9437619386686886,
                1.0489820117662523,
                1.1844060558935652,
                1.272312302295323,
            ],
            valley: Some(0.004763938010401344),
            steep: Some(0.000924914727721733),
            minimum: Some(0.02182644728397486),
            slide: Some(0.0004075392965871776),
        },
        FastaiCase {
            name: "stopped_early",
            num_it: 100,
            lrs: &[
                1e-07,
                1.2045035402587822e-07,
                1.4508287784959396e-07,
                1.7475284000076837e-07,
                2.1049041445120203e-07,
                2.535364493970112e-07,
                3.053855508833415e-07,
                3.678379771828633e-07,
                4.4306214575838814e-07,
                5.33669923120631e-07,
                6.42807311728432e-07,
                7.742636826811268e-07,
                9.326033468832198e-07,
                1.1233240329780275e-06,
                1.3530477745798068e-06,
                1.6297508346206441e-06,
                1.9630406500402713e-06,
                2.364489412645407e-06,
                2.848035868435802e-06,
                3.430469286314917e-06,
                4.132012400115337e-06,
                4.977023564332111e-06,
                5.994842503189409e-06,
                7.220809018385463e-06,
                8.697490026177835e-06,
                1.047615752789665e-05,
                1.261856883066021e-05,
                1.519911082952933e-05,
                1.8307382802953676e-05,
                2.2051307399030455e-05,
                2.656087782946687e-05,
                3.199267137797385e-05,
                3.853528593710531e-05,
                4.641588833612777e-05,
                5.590810182512223e-05,
                6.73415065775082e-05,
                8.111308307896872e-05,
                9.770099572992256e-05,
                0.00011768119524349978,
                0.00014174741629268049,
            ],
            losses: &[
                2.303399437843484,
                2.2898886666365277,
                2.3014685317482524,
                2.2748841970843454,
                2.286666240689285,
                2.2938497804102966,
                2.315139669127769,
                2.3192932670248076,
                2.2689313968689793,
                2.2782538542658526,
                2.305488975041436,
                2.250675104107607,
                2.2786864755294283,
                2.2827405525408304,
                2.3056935897896755,
                2.289116146263618,
                2.26219177103219,
                2.25307046613316,
                2.2450377351220334,
                2.267525818092541,
                2.212364678749305,
                2.1949478831230094,
                2.183710951445003,
                2.1447175182833176,
                2.107828481376248,
                2.0477515954612184,
                2.0213518956492287,
                1.9575624390294282,
                1.9283661962595797,
                1.8514362068641934,
                1.7674069716165737,
                1.7088222528756274,
                1.6163542895053937,
                1.574091329726314,
                1.4868611163637753,
                1.4379846050909408,
                1.3461730775080707,
                1.3313200139182793,
                1.2497024622737087,
                1.2081637025749516,
            ],
            valley: Some(7.220809018385463e-06),
            steep: Some(3.199267137797385e-05),
            minimum: Some(5.590810182512223e-06),
            slide: Some(6.42807311728432e-07),
        },
        FastaiCase {
            name: "noise_linear",
            num_it: 36,
            lrs: &[
                0.01,
                0.038285714285714284,
                0.06657142857142857,
                0.09485714285714285,
                0.12314285714285714,
                0.15142857142857144,
                0.17971428571428572,
                0.208,
                0.2362857142857143,
                0.26457142857142857,
                0.29285714285714287,
                0.3211428571428572,
                0.3494285714285714,
                0.3777142857142857,
                0.40599999999999997,
                0.4342857142857143,
                0.4625714285714286,
                0.4908571428571428,
                0.5191428571428571,
                0.5474285714285714,
                0.5757142857142857,
                0.604,
                0.6322857142857143,
                0.6605714285714286,
                0.6888571428571428,
                0.7171428571428572,
                0.7454285714285714,
                0.7737142857142857,
                0.8019999999999999,
                0.8302857142857143,
                0.8585714285714285,
                0.8868571428571429,
                0.9151428571428571,
                0.9434285714285715,
                0.9717142857142856,
                1.0,
            ],
            losses: &[
                0.9847761561144281,
                0.9550036196200702,
                1.0082026397856112,
                1.1122378313243024,
                0.9584138409293959,
                0.9688028206778047,
                1.0102701973032349,
                1.024650664570618,
                0.9911796967047121,
                0.9897034834873392,
                1.0351231477560272,
                1.025995381851695,
                0.9483162083963156,
                0.9960409340692079,
                1.0017643424330738,
                0.9472757688975445,
                1.012991955033718,
                0.9571021761411728,
                1.0486033353958522,
                1.0096372956302537,
                1.0044653242884525,
                0.9704485823571863,
                0.9940695088061153,
                0.9001126853546473,
                0.9434296264738471,
                1.0181419899594377,
                0.8935716479088928,
                1.0423304260740582,
                0.9126951762313046,
                1.0378369251332134,
                0.9577251483560338,
                1.038949554217123,
                1.00654756037924,
                0.9231582529854255,
                1.0624574374779228,
                1.0720853577761307,
            ],
            valley: Some(0.604),
            steep: Some(0.7737142857142857),
            minimum: Some(0.07454285714285715),
            slide: Some(0.09485714285714285),
        },
        FastaiCase {
            name: "decreasing",
            num_it: 30,
            lrs: &[
                0.0001,
                0.0001373823795883263,
                0.0001887391822135097,
                0.00025929437974046675,
                0.0003562247890262442,
                0.0004893900918477495,
                0.0006723357536499337,
                0.0009236708571873863,
                0.0012689610031679222,
                0.0017433288221999881,
                0.002395026619987486,
                0.003290344562312668,
                0.004520353656360243,
                0.006210169418915616,
                0.00853167852417281,
                0.011721022975334807,
                0.01610262027560939,
                0.02212216291070448,
                0.030391953823131982,
                0.04175318936560401,
                0.05736152510448682,
                0.07880462815669913,
                0.1082636733874054,
                0.1487352107293512,
                0.20433597178569418,
                0.2807216203941176,
                0.38566204211634725,
                0.5298316906283708,
                0.7278953843983155,
                1.0,
            ],
            losses: &[
                5.196152422706632,
                5.018008489517454,
                4.8419482305778585,
                4.667996604519683,
                4.496179488980601,
                4.3265237384291115,
                4.159057247215584,
                3.9938090184727506,
                3.8308092395825364,
                3.670089365036404,
                3.5116822076475405,
                3.355622039229504,
                3.201944702043373,
                3.050687732541257,
                2.901890499207704,
                2.7555943566340044,
                2.611842818369494,
                2.47068175159898,
                2.3321595973234244,
                2.196327620507889,
                2.063240195654726,
                1.9329551345267062,
                1.8055340643743443,
                1.6810428671396749,
                1.559552192892293,
                1.4411380644563387,
                1.3258825951785724,
                1.2138748486147792,
                1.1052118784007456,
                1.0,
            ],
            valley: Some(0.004520353656360243),
            steep: Some(0.00025929437974046675),
            minimum: Some(0.020433597178569417),
            slide: Some(0.00025929437974046675),
        },
        FastaiCase {
            name: "window16",
            num_it: 15,
            lrs: &[
                0.001,
                0.0013894954943731376,
                0.00193069772888325,
                0.0026826957952797255,
                0.00372759372031494,
                0.005179474679231211,
                0.00719685673001152,
                0.009999999999999998,
                0.013894954943731375,
                0.0193069772888325,
                0.026826957952797253,
                0.03727593720314941,
                0.0517947467923121,
                0.07196856730011521,
                0.09999999999999998,
                0.13894954943731377,
                0.19306977288832497,
                0.2682695795279726,
                0.3727593720314939,
                0.5179474679231212,
                0.7196856730011517,
                1.0,
            ],
            losses: &[
                1.999341950939998,
                1.854889107486013,
                1.7165584782180838,
                1.5746766217791606,
                1.4701516542387376,
                1.3394931835041797,
                1.243512730726351,
                1.150596051160073,
                1.083916356061674,
                1.0275841655168034,
                1.0226676167650202,
                0.9984593241345716,
                1.0199361673274667,
                1.040851050240292,
                1.0837585378972894,
                1.155946041604727,
                1.239250663263313,
                1.3459576164852534,
                1.4564771492025863,
                1.5825793890794864,
                1.7055848536442835,
                1.8508115326639216,
            ],
            valley: Some(0.00372759372031494),
            steep: Some(0.00193069772888325),
            minimum: Some(0.003727593720314941),
            slide: Some(0.0013894954943731376),
        },
        FastaiCase {
            name: "window15",
            num_it: 15,
            lrs: &[
                0.001,
                0.0014125375446227544,
                0.00199526231496888,
                0.002818382931264454,
                0.0039810717055349725,
                0.00562341325190349,
                0.007943282347242814,
                0.011220184543019632,
                0.015848931924611138,
                0.0223872113856834,
                0.03162277660168379,
                0.04466835921509633,
                0.06309573444801932,
                0.08912509381337456,
                0.12589254117941667,
                0.1778279410038923,
                0.25118864315095807,
                0.35481338923357536,
                0.5011872336272724,
                0.7079457843841377,
                1.0,
            ],
            losses: &[
                2.0165405754880044,
                1.8438495353638837,
                1.6939388554624255,
                1.5684077292145202,
                1.4494302486005302,
                1.303820996951854,
                1.214587871890004,
                1.1262562488666341,
                1.0503507192894996,
                1.0316259092659248,
                1.002270574210397,
                1.003849389989007,
                1.018629254397349,
                1.0755881266260998,
                1.131397659856253,
                1.2204977710271112,
                1.3134542115270338,
                1.430155255006501,
                1.58597543831917,
                1.7074509406120708,
                1.861796795503691,
            ],
            valley: Some(0.0039810717055349725),
            steep: Some(0.0014125375446227544),
            minimum: Some(0.003162277660168379),
            slide: None,
        },
        FastaiCase {
            name: "tiny",
            num_it: 10,
            lrs: &[0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128],
            losses: &[2.0, 1.9, 1.7, 1.8, 1.6, 1.5, 1.55, 1.4],
            valley: Some(0.004),
            steep: Some(0.002),
            minimum: Some(0.0004),
            slide: None,
        },
    ];

    fn curve(case: &FastaiCase) -> RangeTestCurve {
        RangeTestCurve {
            seed: 0,
            num_steps: case.num_it,
            lrs: case.lrs.to_vec(),
            losses: case.losses.to_vec(),
            smoothed: case.losses.to_vec(),
            stopped_early: case.lrs.len() < case.num_it,
        }
    }

    #[test]
    fn every_rule_matches_fastai_exactly() {
        for case in FASTAI_CASES {
            let curve = curve(case);
            for (which, expected) in [
                (Suggestion::Valley, case.valley),
                (Suggestion::Steep, case.steep),
                (Suggestion::Minimum, case.minimum),
                (Suggestion::Slide, case.slide),
            ] {
                assert_eq!(suggest(&curve, which), expected, "{} {which}", case.name);
            }
        }
    }

    #[test]
    fn window_trims_a_tenth_of_the_planned_steps_and_the_last_five() {
        let case = &FASTAI_CASES[1]; // 40 of 100 planned points
        let curve = curve(case);
        let (lrs, losses) = suggestion_window(&curve);
        assert_eq!(lrs, &case.lrs[10..35]);
        assert_eq!(losses, &case.losses[10..35]);
    }

    #[test]
    fn too_short_curves_suggest_nothing() {
        let empty = RangeTestCurve {
            seed: 0,
            num_steps: 100,
            lrs: vec![1e-3; 12],
            losses: vec![1.0; 12],
            smoothed: vec![1.0; 12],
            stopped_early: true,
        };
        // 12 points, of which the first 10 and last 5 are trimmed: nothing is left.
        assert_eq!(suggestion_window(&empty).0.len(), 0);
        for which in Suggestion::ALL {
            assert_eq!(suggest(&empty, which), None, "{which}");
        }
        assert_eq!(steep(&[1e-3], &[1.0]), None);
        assert_eq!(valley(&[1e-3], &[1.0]), Some(1e-3));
    }

    #[test]
    fn numpy_gradient_matches_numpy() {
        // np.gradient([1, 2, 4, 7, 11]) == [1, 1.5, 2.5, 3.5, 4]
        assert_eq!(
            numpy_gradient(&[1.0, 2.0, 4.0, 7.0, 11.0]),
            vec![1.0, 1.5, 2.5, 3.5, 4.0]
        );
    }
}
