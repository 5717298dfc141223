namespace AdCtr.Grains;

/// <summary>
/// Progressive-validation statistics (Blum, Kalai and Langford 1999): each example is scored before it is
/// learned, and these sums of those scores estimate holdout quality without holding data out. Calibration
/// ratio and normalized entropy as in He et al. 2014. Single writer (a grain turn); readers may see a
/// slightly stale but never torn set because each field is a 64-bit value read atomically on x64.
/// </summary>
public sealed class ProgressiveStats
{
    public long Examples;
    public double Weight;
    public double Clicks;
    public double SumPredicted;
    public double LogLossSum;
    public long LastUpdateUnixMs;

    public void Add(double p, float label, float weight, long nowUnixMs)
    {
        var clipped = Math.Clamp(p, 1e-15, 1 - 1e-15);
        Examples++;
        Weight += weight;
        Clicks += label * weight;
        SumPredicted += p * weight;
        LogLossSum += weight * (label > 0 ? -Math.Log(clipped) : -Math.Log(1 - clipped));
        LastUpdateUnixMs = nowUnixMs;
    }

    public double LogLoss => Weight > 0 ? LogLossSum / Weight : double.NaN;

    public double Ctr => Weight > 0 ? Clicks / Weight : double.NaN;

    /// <summary>Log loss divided by the entropy of the empirical CTR; NaN when the CTR is 0 or 1.</summary>
    public double NormalizedEntropy
    {
        get
        {
            var ctr = Ctr;
            if (!(ctr > 0 && ctr < 1))
            {
                return double.NaN;
            }

            var h = -((ctr * Math.Log(ctr)) + ((1 - ctr) * Math.Log(1 - ctr)));
            return LogLoss / h;
        }
    }

    /// <summary>Sum of predictions divided by the number of clicks (1 is perfect); NaN without clicks.</summary>
    public double CalibrationRatio => Clicks > 0 ? SumPredicted / Clicks : double.NaN;

    public ProgressiveStats Clone() => (ProgressiveStats)MemberwiseClone();
}
