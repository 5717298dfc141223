using System.Diagnostics.CodeAnalysis;

namespace AdCtr.Learning.Evaluation;

/// <summary>Small throw helpers so the adding methods stay inlinable.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ArgumentOutOfRange(string paramName, string message) =>
        throw new ArgumentOutOfRangeException(paramName, message);

    public static void CheckExample(double p, int label, double weight)
    {
        if (!(p >= 0 && p <= 1))
        {
            ArgumentOutOfRange(nameof(p), "The prediction must be a probability in [0, 1].");
        }

        if ((uint)label > 1)
        {
            ArgumentOutOfRange(nameof(label), "The label must be 0 or 1.");
        }

        if (!(weight >= 0) || double.IsPositiveInfinity(weight))
        {
            ArgumentOutOfRange(nameof(weight), "The weight must be finite and non-negative.");
        }
    }
}
