namespace AdCtr.Learning.Calibration;

/// <summary>
/// Isotonic calibration: the non-decreasing step function of the raw prediction that best fits the labels in
/// weighted squared error, found by pool-adjacent-violators over the predictions sorted ascending (Ayer et al.
/// 1955; Zadrozny and Elkan, KDD 2002, for its use as a calibrator). At prediction time the fitted values are
/// interpolated linearly between block centres (the weighted mean prediction of each pooled block) and held
/// constant outside the fitted range. Immutable; <see cref="Calibrate"/> does not allocate.
/// </summary>
public sealed class IsotonicCalibrator : ICalibrator
{
    private readonly double[] _centres;
    private readonly double[] _values;

    private IsotonicCalibrator(double[] centres, double[] values)
    {
        _centres = centres;
        _values = values;
    }

    /// <summary>Block centres, strictly increasing.</summary>
    public ReadOnlySpan<double> Centres => _centres;

    /// <summary>Fitted value of each block, in [0, 1]; strictly increasing after <see cref="Fit"/>, non-decreasing in general.</summary>
    public ReadOnlySpan<double> Values => _values;

    /// <summary>
    /// Fits the calibrator on raw predictions <paramref name="p"/>, labels <paramref name="y"/> (0 or 1) and
    /// optional non-negative weights <paramref name="w"/> (empty: all 1). At least one example must have a
    /// positive weight.
    /// </summary>
    public static IsotonicCalibrator Fit(ReadOnlySpan<double> p, ReadOnlySpan<int> y, ReadOnlySpan<double> w = default)
    {
        CalibrationInput.Check(p, y, w);

        var order = new int[p.Length];
        var keys = new double[p.Length];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
            keys[i] = p[i];
        }

        Array.Sort(keys, order);

        // Blocks kept as a stack of (weight, weighted label sum, weighted prediction sum).
        var blockWeight = new double[p.Length];
        var blockLabels = new double[p.Length];
        var blockPredictions = new double[p.Length];
        var blocks = 0;

        var k = 0;
        while (k < order.Length)
        {
            // Equal predictions form one point: the fit must give them one value.
            var x = keys[k];
            double weight = 0, labels = 0;
            while (k < order.Length && keys[k] == x)
            {
                var wi = CalibrationInput.Weight(w, order[k]);
                weight += wi;
                labels += wi * y[order[k]];
                k++;
            }

            if (!(weight > 0))
            {
                continue;
            }

            blockWeight[blocks] = weight;
            blockLabels[blocks] = labels;
            blockPredictions[blocks] = weight * x;
            blocks++;

            // Pool while the previous block's mean is not below the last block's mean (compared without
            // division). Pooling equal means as well leaves strictly increasing values: the fewest points.
            while (blocks > 1 &&
                   blockLabels[blocks - 2] * blockWeight[blocks - 1] >= blockLabels[blocks - 1] * blockWeight[blocks - 2])
            {
                blockWeight[blocks - 2] += blockWeight[blocks - 1];
                blockLabels[blocks - 2] += blockLabels[blocks - 1];
                blockPredictions[blocks - 2] += blockPredictions[blocks - 1];
                blocks--;
            }
        }

        if (blocks == 0)
        {
            throw new ArgumentException("At least one example must have a positive weight.", nameof(w));
        }

        var centres = new double[blocks];
        var values = new double[blocks];
        for (var b = 0; b < blocks; b++)
        {
            centres[b] = blockPredictions[b] / blockWeight[b];
            values[b] = Math.Clamp(blockLabels[b] / blockWeight[b], 0, 1);
        }

        // Centres of distinct, sorted points pooled contiguously are increasing; rounding in the weighted
        // mean could in principle tie two adjacent centres, which interpolation must not see.
        return FromPoints(centres, values);
    }

    /// <summary>
    /// Rebuilds a calibrator from stored points (e.g. a snapshot): centres strictly increasing and finite,
    /// values non-decreasing in [0, 1], same non-zero length. The arrays are copied.
    /// </summary>
    public static IsotonicCalibrator FromPoints(ReadOnlySpan<double> centres, ReadOnlySpan<double> values)
    {
        if (centres.IsEmpty || centres.Length != values.Length)
        {
            throw new ArgumentException("Centres and values must be non-empty and of equal length.", nameof(values));
        }

        var c = new List<double>(centres.Length);
        var v = new List<double>(centres.Length);
        for (var i = 0; i < centres.Length; i++)
        {
            if (!double.IsFinite(centres[i]) || !(values[i] >= 0 && values[i] <= 1))
            {
                throw new ArgumentException("Centres must be finite and values in [0, 1].", nameof(centres));
            }

            if (i > 0 && values[i] < values[i - 1])
            {
                throw new ArgumentException("Values must be non-decreasing.", nameof(values));
            }

            if (c.Count > 0 && centres[i] <= c[^1])
            {
                if (centres[i] < c[^1])
                {
                    throw new ArgumentException("Centres must be increasing.", nameof(centres));
                }

                // A repeated centre keeps the larger (later) value: still monotone.
                v[^1] = values[i];
                continue;
            }

            c.Add(centres[i]);
            v.Add(values[i]);
        }

        return new IsotonicCalibrator([.. c], [.. v]);
    }

    /// <inheritdoc />
    public double Calibrate(double p)
    {
        var c = _centres;
        var v = _values;
        if (double.IsNaN(p))
        {
            return double.NaN;
        }

        if (p <= c[0])
        {
            return v[0];
        }

        var last = c.Length - 1;
        if (p >= c[last])
        {
            return v[last];
        }

        // Invariant: c[lo] < p < c[hi] or p equals one of them.
        int lo = 0, hi = last;
        while (hi - lo > 1)
        {
            var mid = (lo + hi) >>> 1;
            if (c[mid] <= p)
            {
                lo = mid;
            }
            else
            {
                hi = mid;
            }
        }

        var t = (p - c[lo]) / (c[hi] - c[lo]);
        return v[lo] + t * (v[hi] - v[lo]);
    }
}
