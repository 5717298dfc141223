namespace AdCtr.Learning.Calibration;

/// <summary>
/// Negative downsampling correction (He et al., "Practical Lessons from Predicting Clicks on Ads at
/// Facebook", ADKDD 2014, section 6.2). A model trained on data where only a fraction w of the negatives was
/// kept (without importance weights) predicts p; the probability on the full distribution is
/// q = p / (p + (1 - p) / w).
/// </summary>
public static class Downsampling
{
    /// <summary>
    /// Corrects prediction <paramref name="p"/> (in [0, 1]) of a model trained with negative sampling rate
    /// <paramref name="w"/> (the fraction of negatives kept, in (0, 1]).
    /// </summary>
    public static double Correct(double p, double w)
    {
        Check(p, w);
        return p / (p + (1 - p) / w);
    }

    /// <summary>
    /// The inverse of <see cref="Correct"/>: the click rate seen in the sampled data when the true rate is
    /// <paramref name="q"/>, p = q / (q + (1 - q) * w).
    /// </summary>
    public static double SampledRate(double q, double w)
    {
        Check(q, w);
        return q / (q + (1 - q) * w);
    }

    private static void Check(double p, double w)
    {
        if (!(p >= 0 && p <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(p), "The probability must be in [0, 1].");
        }

        if (!(w > 0 && w <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(w), "The fraction of negatives kept must be in (0, 1].");
        }
    }
}
