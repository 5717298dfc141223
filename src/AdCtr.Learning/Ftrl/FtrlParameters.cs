using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace AdCtr.Learning.Ftrl;

/// <summary>
/// Hyper-parameters of FTRL-Proximal (McMahan et al., "Ad Click Prediction: a View from the Trenches",
/// KDD 2013, Algorithm 1): per-coordinate learning rate alpha / (beta + sqrt(n_i)), L1 and L2.
/// </summary>
public readonly record struct FtrlParameters(double Alpha, double Beta, double L1, double L2)
{
    /// <summary>
    /// Defaults for the global (fixed-effect) model, as in config/appsettings.json: the best of 27 configurations
    /// by successive halving (<c>adctr-sim tune --budget 27 --seed 1</c>) on the drift scenario (600,000 rows, seed
    /// 1), also the best of the tuner's finalists on the stationary scenario.
    /// </summary>
    public static FtrlParameters GlobalDefault => new(Alpha: 0.195, Beta: 1.0, L1: 0.151, L2: 0.555);

    /// <summary>
    /// Defaults for a campaign (random-effect) model: a stronger L2, so that a campaign with little data
    /// shrinks towards 0 and its predictions fall back to the global model (GLMix, Zhang et al. KDD 2016).
    /// The values tuned with <see cref="GlobalDefault"/>.
    /// </summary>
    public static FtrlParameters CampaignDefault => new(Alpha: 0.00825, Beta: 1.0, L1: 0.0206, L2: 5.52);

    public void Validate()
    {
        if (!(Alpha > 0) || !double.IsFinite(Alpha))
        {
            throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, "alpha must be finite and > 0");
        }

        if (!(Beta >= 0) || !double.IsFinite(Beta))
        {
            throw new ArgumentOutOfRangeException(nameof(Beta), Beta, "beta must be finite and >= 0");
        }

        if (!(L1 >= 0) || !double.IsFinite(L1))
        {
            throw new ArgumentOutOfRangeException(nameof(L1), L1, "L1 must be finite and >= 0");
        }

        if (!(L2 >= 0) || !double.IsFinite(L2))
        {
            throw new ArgumentOutOfRangeException(nameof(L2), L2, "L2 must be finite and >= 0");
        }
    }
}

/// <summary>The per-coordinate arithmetic of FTRL-Proximal, shared by every storage.</summary>
internal readonly struct FtrlMath
{
    private readonly float _l1;
    private readonly float _l2;
    private readonly float _beta;
    private readonly float _invAlpha;

    public FtrlMath(FtrlParameters p)
    {
        p.Validate();
        _l1 = (float)p.L1;
        _l2 = (float)p.L2;
        _beta = (float)p.Beta;
        _invAlpha = (float)(1.0 / p.Alpha);
    }

    /// <summary>1 / alpha as a float, the factor of <see cref="Update"/> (for vector forms of it).</summary>
    public float InvAlpha => _invAlpha;

    /// <summary>w_i = 0 if |z| &lt;= L1, else -(z - sign(z) L1) / ((beta + sqrt(n)) / alpha + L2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Weight(float z, float n)
    {
        var az = MathF.Abs(z);
        if (az <= _l1)
        {
            return 0f;
        }

        return -(z - MathF.CopySign(_l1, z)) / (((_beta + MathF.Sqrt(n)) * _invAlpha) + _l2);
    }

    /// <summary>
    /// <see cref="Weight"/> for eight coordinates at once, branch-free: the same operations in the same
    /// order, so each lane is bit-identical to the scalar weight for every finite z (a NaN z, which the
    /// validated inputs never produce, gives 0 here and NaN in the scalar form).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Weights(Vector256<float> z, Vector256<float> n)
    {
        var signBit = Vector256.Create(-0f);
        var l1 = Vector256.Create(_l1);
        var active = Vector256.GreaterThan(Vector256.AndNot(z, signBit), l1);
        var numerator = z - (l1 | (z & signBit));
        var denominator = ((Vector256.Create(_beta) + Vector256.Sqrt(n)) * Vector256.Create(_invAlpha))
            + Vector256.Create(_l2);
        return Vector256.ConditionalSelect(active, -(numerator / denominator), Vector256<float>.Zero);
    }

    /// <summary>
    /// sigma = (sqrt(n + g^2) - sqrt(n)) / alpha; z += g - sigma w; n += g^2. Returns the new (z, n).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Update(ref float z, ref float n, float g, float w)
    {
        var n0 = n;
        var n1 = n0 + (g * g);
        var sigma = (MathF.Sqrt(n1) - MathF.Sqrt(n0)) * _invAlpha;
        z += g - (sigma * w);
        n = n1;
    }
}
