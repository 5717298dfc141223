namespace AdCtr.Learning.Calibration;

/// <summary>
/// Maps a raw model probability to a calibrated one. Implementations are immutable, so a refitted
/// calibrator can be published by swapping one reference (a volatile write) while predictions read it.
/// </summary>
public interface ICalibrator
{
    /// <summary>The calibrated probability for raw probability <paramref name="p"/> in [0, 1].</summary>
    double Calibrate(double p);
}

/// <summary>Leaves probabilities unchanged: the calibrator to use before any has been fitted.</summary>
public sealed class IdentityCalibrator : ICalibrator
{
    private IdentityCalibrator()
    {
    }

    /// <summary>The single instance.</summary>
    public static IdentityCalibrator Instance { get; } = new();

    /// <inheritdoc />
    public double Calibrate(double p) => p;
}
