namespace AdCtr.Learning.Evaluation;

/// <summary>Log loss and binary entropy helpers shared by the evaluation types.</summary>
public static class LogLoss
{
    /// <summary>Probabilities are clipped to [Epsilon, 1 - Epsilon] before taking logarithms.</summary>
    public const double Epsilon = 1e-15;

    /// <summary>Clips a probability to [Epsilon, 1 - Epsilon].</summary>
    public static double Clip(double p) => Math.Clamp(p, Epsilon, 1 - Epsilon);

    /// <summary>
    /// -log(p) for a positive, -log(1 - p) for a negative. The probability of the observed label is
    /// clipped to [Epsilon, 1 - Epsilon]; clipping it rather than p keeps the two extremes symmetric
    /// (1 - (1 - 1e-15) is not 1e-15 in doubles), so the largest loss is exactly -ln(1e-15).
    /// </summary>
    public static double Of(double p, int label) => -Math.Log(Clip(label != 0 ? p : 1 - p));

    /// <summary>
    /// Binary entropy H(q) = -(q log q + (1 - q) log(1 - q)) in nats (He et al. 2014, the denominator of
    /// normalized entropy). Returns 0 at q = 0 and q = 1.
    /// </summary>
    public static double Entropy(double q)
    {
        if (q <= 0 || q >= 1)
        {
            return 0;
        }

        return -(q * Math.Log(q) + (1 - q) * Math.Log(1 - q));
    }
}
