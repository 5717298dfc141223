namespace AdCtr.Learning.Calibration;

/// <summary>
/// Platt scaling (Platt, "Probabilistic Outputs for Support Vector Machines", 1999): a one-dimensional
/// logistic regression on the model's logit, calibrated = sigmoid(A * logit(p) + B), with p clipped to
/// [1e-15, 1 - 1e-15] before the logit. Immutable; <see cref="Calibrate"/> does not allocate.
/// </summary>
public sealed class PlattCalibrator : ICalibrator
{
    /// <summary>Default strength of the L2 penalty of <see cref="Fit"/>.</summary>
    public const double DefaultL2 = 1e-3;

    private const double Clip = 1e-15;
    private const int MaxNewtonIterations = 100;
    private const int MaxHalvings = 60;

    /// <summary>Creates a calibrator with the given slope and intercept (finite).</summary>
    public PlattCalibrator(double a, double b)
    {
        if (!double.IsFinite(a) || !double.IsFinite(b))
        {
            throw new ArgumentOutOfRangeException(nameof(a), "A and B must be finite.");
        }

        A = a;
        B = b;
    }

    /// <summary>Slope on the logit.</summary>
    public double A { get; }

    /// <summary>Intercept.</summary>
    public double B { get; }

    /// <summary>Newton iterations used by the fit that produced this calibrator (0 when constructed directly).</summary>
    public int Iterations { get; private init; }

    /// <inheritdoc />
    public double Calibrate(double p) => Sigmoid(A * Logit(p) + B);

    /// <summary>
    /// Fits A and B by Newton's method on the weighted log loss plus 0.5 * l2 * ((A - 1)^2 + B^2).
    /// The penalty pulls towards the identity (A = 1, B = 0) rather than towards 0: with little or separable
    /// data the calibrator then stays close to leaving the model alone instead of flattening every
    /// prediction to one value, and the optimum stays finite when a class is missing.
    /// With <paramref name="targetSmoothing"/>, Platt's targets replace the labels: (N+ + 1) / (N+ + 2) for
    /// positives and 1 / (N- + 2) for negatives, N being weighted counts.
    /// </summary>
    public static PlattCalibrator Fit(
        ReadOnlySpan<double> p,
        ReadOnlySpan<int> y,
        ReadOnlySpan<double> w = default,
        bool targetSmoothing = false,
        double l2 = DefaultL2)
    {
        CalibrationInput.Check(p, y, w);
        if (!(l2 > 0) || !double.IsFinite(l2))
        {
            throw new ArgumentOutOfRangeException(nameof(l2), "The L2 strength must be positive and finite.");
        }

        double positives = 0, negatives = 0;
        for (var i = 0; i < p.Length; i++)
        {
            var wi = CalibrationInput.Weight(w, i);
            if (y[i] != 0)
            {
                positives += wi;
            }
            else
            {
                negatives += wi;
            }
        }

        var positiveTarget = targetSmoothing ? (positives + 1) / (positives + 2) : 1.0;
        var negativeTarget = targetSmoothing ? 1 / (negatives + 2) : 0.0;

        double a = 1, b = 0;
        var objective = Objective(p, y, w, a, b, positiveTarget, negativeTarget, l2);
        var iterations = 0;
        while (iterations < MaxNewtonIterations)
        {
            iterations++;

            // Gradient and Hessian of the penalised loss in (a, b).
            double ga = l2 * (a - 1), gb = l2 * b, haa = l2, hab = 0, hbb = l2;
            for (var i = 0; i < p.Length; i++)
            {
                var wi = CalibrationInput.Weight(w, i);
                if (wi == 0)
                {
                    continue;
                }

                var x = Logit(p[i]);
                var q = Sigmoid(a * x + b);
                var t = y[i] != 0 ? positiveTarget : negativeTarget;
                var r = wi * (q - t);
                var s = wi * q * (1 - q);
                ga += r * x;
                gb += r;
                haa += s * x * x;
                hab += s * x;
                hbb += s;
            }

            // The Hessian is positive definite (l2 > 0), so the 2x2 solve is safe.
            var det = haa * hbb - hab * hab;
            var da = (hbb * ga - hab * gb) / det;
            var db = (haa * gb - hab * ga) / det;

            var step = 1.0;
            var improved = false;
            for (var h = 0; h < MaxHalvings; h++)
            {
                var na = a - step * da;
                var nb = b - step * db;
                var candidate = Objective(p, y, w, na, nb, positiveTarget, negativeTarget, l2);
                if (candidate <= objective)
                {
                    a = na;
                    b = nb;
                    improved = candidate < objective;
                    objective = candidate;
                    break;
                }

                step *= 0.5;
            }

            if (!improved || Math.Max(Math.Abs(step * da), Math.Abs(step * db)) < 1e-12)
            {
                break;
            }
        }

        return new PlattCalibrator(a, b) { Iterations = iterations };
    }

    private static double Objective(
        ReadOnlySpan<double> p, ReadOnlySpan<int> y, ReadOnlySpan<double> w,
        double a, double b, double positiveTarget, double negativeTarget, double l2)
    {
        var sum = 0.5 * l2 * ((a - 1) * (a - 1) + b * b);
        for (var i = 0; i < p.Length; i++)
        {
            var wi = CalibrationInput.Weight(w, i);
            if (wi == 0)
            {
                continue;
            }

            var z = a * Logit(p[i]) + b;
            var t = y[i] != 0 ? positiveTarget : negativeTarget;

            // t * softplus(-z) + (1 - t) * softplus(z), computed without overflow.
            sum += wi * (t * Softplus(-z) + (1 - t) * Softplus(z));
        }

        return sum;
    }

    private static double Softplus(double z) => Math.Max(z, 0) + Math.Log(1 + Math.Exp(-Math.Abs(z)));

    private static double Logit(double p)
    {
        var q = Math.Clamp(p, Clip, 1 - Clip);
        return Math.Log(q / (1 - q));
    }

    private static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));
}
