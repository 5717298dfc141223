using System.Diagnostics.CodeAnalysis;

namespace AdCtr.Learning.Calibration;

/// <summary>Argument checks shared by the calibrator fits.</summary>
internal static class CalibrationInput
{
    /// <summary>Checks lengths and ranges; returns the weight of example i (1 when no weights were given).</summary>
    public static void Check(ReadOnlySpan<double> p, ReadOnlySpan<int> y, ReadOnlySpan<double> w)
    {
        if (p.Length != y.Length)
        {
            Throw("The predictions and labels must have the same length.", nameof(y));
        }

        if (!w.IsEmpty && w.Length != p.Length)
        {
            Throw("The weights must be empty or have the length of the predictions.", nameof(w));
        }

        for (var i = 0; i < p.Length; i++)
        {
            if (!(p[i] >= 0 && p[i] <= 1))
            {
                Throw("Every prediction must be a probability in [0, 1].", nameof(p));
            }

            if ((uint)y[i] > 1)
            {
                Throw("Every label must be 0 or 1.", nameof(y));
            }

            if (!w.IsEmpty && (!(w[i] >= 0) || double.IsPositiveInfinity(w[i])))
            {
                Throw("Every weight must be finite and non-negative.", nameof(w));
            }
        }
    }

    public static double Weight(ReadOnlySpan<double> w, int i) => w.IsEmpty ? 1 : w[i];

    [DoesNotReturn]
    private static void Throw(string message, string paramName) => throw new ArgumentException(message, paramName);
}
