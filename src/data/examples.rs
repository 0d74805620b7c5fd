//! Labelled examples read from a file: row-major f32 features and u8 labels.

/// Labelled examples in memory, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Examples {
    /// Row-major features, `len() × shape.iter().product()`; raw scale (pixels 0–255 as f32,
    /// table values as written).
    pub x: Vec<f32>,
    /// Labels in `0..num_classes`.
    pub y: Vec<u8>,
    /// Shape of one example: `[1, 28, 28]` / `[3, 32, 32]` for images (C, H, W), `[n_features]`
    /// for tables.
    pub shape: Vec<usize>,
    /// Number of classes.
    pub num_classes: usize,
}

impl Examples {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Number of f32 values in one example (the product of `shape`).
    pub fn example_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Number of examples of each class, indexed by label.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes];
        for &label in &self.y {
            if let Some(count) = counts.get_mut(usize::from(label)) {
                *count += 1;
            }
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_class_counts() {
        let examples = Examples {
            x: vec![0.0; 3 * 4],
            y: vec![1, 0, 1],
            shape: vec![1, 2, 2],
            num_classes: 3,
        };
        assert_eq!(examples.len(), 3);
        assert!(!examples.is_empty());
        assert_eq!(examples.example_len(), 4);
        assert_eq!(examples.class_counts(), vec![1, 2, 0]);
    }
}
