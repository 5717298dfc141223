using System.Runtime.CompilerServices;

namespace AdCtr.Simulator.World;

/// <summary>
/// SplitMix64 (Steele, Lea, Flood 2014; the seeding generator Vigna recommends for xoshiro), written here so that
/// the simulator's output depends only on the seed, never on the .NET version (System.Random's algorithm is not
/// part of its contract).
/// </summary>
public static class SplitMix64
{
    /// <summary>Advances <paramref name="state"/> by the golden gamma and returns the mixed output.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Next(ref ulong state)
    {
        state += 0x9E3779B97F4A7C15UL;
        return Mix(state);
    }

    /// <summary>The SplitMix64 finaliser (a bijection on 64-bit values).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

/// <summary>
/// xoshiro256** 1.0 (Blackman and Vigna, "Scrambled linear pseudorandom number generators", 2018), seeded through
/// SplitMix64. Each independent stream of the simulator (world construction, arrivals, clicks, ...) is its own
/// instance created from (seed, stream id), so consuming more numbers in one stream never shifts another.
/// Not thread-safe: one instance per consumer.
/// </summary>
public sealed class SimRandom
{
    private const double Inv53 = 1.0 / (1UL << 53);

    private ulong _s0;
    private ulong _s1;
    private ulong _s2;
    private ulong _s3;

    /// <summary>Seeds the four state words with four SplitMix64 outputs of <paramref name="seed"/>.</summary>
    public SimRandom(ulong seed)
    {
        var sm = seed;
        _s0 = SplitMix64.Next(ref sm);
        _s1 = SplitMix64.Next(ref sm);
        _s2 = SplitMix64.Next(ref sm);
        _s3 = SplitMix64.Next(ref sm);
    }

    /// <summary>An independent stream: the seed and the stream id are mixed before seeding.</summary>
    public static SimRandom ForStream(ulong seed, ulong stream) =>
        new(SplitMix64.Mix(seed ^ SplitMix64.Mix(stream + 0x5EED_5EED_5EED_5EEDUL)));

    /// <summary>The next 64 random bits (xoshiro256** output function and state transition).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong NextUInt64()
    {
        var result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double NextDouble() => (NextUInt64() >> 11) * Inv53;

    /// <summary>Uniform in (0, 1]: safe to take the logarithm of.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double NextDoubleNonZero() => ((NextUInt64() >> 11) + 1) * Inv53;

    /// <summary>Uniform integer in [0, <paramref name="n"/>), by Lemire's multiply-shift (bias below 2^-32 for n &lt; 2^32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int NextInt(int n) => (int)((NextUInt64() >> 32) * (ulong)(uint)n >> 32);

    /// <summary>Uniform in [<paramref name="min"/>, <paramref name="max"/>).</summary>
    public double NextDouble(double min, double max) => min + ((max - min) * NextDouble());

    /// <summary>Standard normal by the Box-Muller transform (one value per call, the pair's second half is dropped).</summary>
    public double NextGaussian()
    {
        var u1 = NextDoubleNonZero();
        var u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Normal with mean <paramref name="mean"/> and standard deviation <paramref name="sd"/>.</summary>
    public double NextGaussian(double mean, double sd) => mean + (sd * NextGaussian());

    /// <summary>Exponential with rate <paramref name="rate"/> (inverse transform).</summary>
    public double NextExponential(double rate) => -Math.Log(NextDoubleNonZero()) / rate;

    /// <summary>
    /// Poisson with mean <paramref name="mean"/> (Knuth's product of uniforms; meant for small means, the
    /// scenario validation caps the means it is used with). The loop is bounded by a generous multiple of the mean.
    /// </summary>
    public int NextPoisson(double mean)
    {
        if (mean <= 0)
        {
            return 0;
        }

        var limit = Math.Exp(-mean);
        var product = NextDoubleNonZero();
        var k = 0;
        var cap = (int)(mean * 20) + 100;
        while (product > limit && k < cap)
        {
            product *= NextDoubleNonZero();
            k++;
        }

        return k;
    }

    /// <summary>Index drawn from a cumulative weight table (last entry = total) by binary search.</summary>
    public int NextFromCumulative(ReadOnlySpan<double> cumulative)
    {
        var target = NextDouble() * cumulative[^1];
        var lo = 0;
        var hi = cumulative.Length - 1;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (cumulative[mid] > target)
            {
                hi = mid;
            }
            else
            {
                lo = mid + 1;
            }
        }

        return lo;
    }
}
