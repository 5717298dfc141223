using AdCtr.Simulator.World;

namespace AdCtr.Simulator.Tests.World;

public class SimRandomTests
{
    [Fact]
    public void SplitMix64_Seed1234567_MatchesPublishedSequence()
    {
        // The reference sequence of Vigna's splitmix64.c (also Java's SplittableRandom) from seed 1234567.
        var state = 1234567UL;
        Assert.Equal(6457827717110365317UL, SplitMix64.Next(ref state));
        Assert.Equal(3203168211198807973UL, SplitMix64.Next(ref state));
        Assert.Equal(9817491932198370423UL, SplitMix64.Next(ref state));
    }

    [Fact]
    public void NextUInt64_Seed42_MatchesIndependentReference()
    {
        // Computed by an independent Python transcription of xoshiro256** 1.0 (prng.di.unimi.it/xoshiro256starstar.c)
        // seeded with four splitmix64 outputs of 42.
        var rng = new SimRandom(42);
        Assert.Equal(1546998764402558742UL, rng.NextUInt64());
        Assert.Equal(6990951692964543102UL, rng.NextUInt64());
        Assert.Equal(12544586762248559009UL, rng.NextUInt64());
        Assert.Equal(17057574109182124193UL, rng.NextUInt64());
    }

    [Fact]
    public void ForStream_DifferentStreams_GiveDifferentSequences()
    {
        var a = SimRandom.ForStream(7, 1);
        var b = SimRandom.ForStream(7, 2);
        var c = SimRandom.ForStream(7, 1);
        var first = a.NextUInt64();
        Assert.NotEqual(first, b.NextUInt64());
        Assert.Equal(first, c.NextUInt64());
    }

    [Fact]
    public void NextInt_ManyDraws_StaysInRangeAndCoversIt()
    {
        var rng = new SimRandom(3);
        var seen = new int[7];
        for (var i = 0; i < 7000; i++)
        {
            seen[rng.NextInt(7)]++;
        }

        // Each count ~ Binomial(7000, 1/7): mean 1000, sd 29.3; 4 sd = 117.
        foreach (var count in seen)
        {
            Assert.InRange(count, 1000 - 117, 1000 + 117);
        }
    }

    [Fact]
    public void NextGaussian_ManyDraws_HasUnitMeanAndVariance()
    {
        var rng = new SimRandom(5);
        const int N = 100_000;
        double sum = 0, sumSq = 0;
        for (var i = 0; i < N; i++)
        {
            var x = rng.NextGaussian();
            sum += x;
            sumSq += x * x;
        }

        // Mean: sd 1/sqrt(N) = 0.0032, 4 sd = 0.013. Variance: sd sqrt(2/N) = 0.0045, 4 sd = 0.018.
        var mean = sum / N;
        Assert.InRange(mean, -0.013, 0.013);
        Assert.InRange((sumSq / N) - (mean * mean), 1 - 0.018, 1 + 0.018);
    }

    [Fact]
    public void NextPoisson_Mean20_HasMean20()
    {
        var rng = new SimRandom(11);
        const int N = 20_000;
        long sum = 0;
        for (var i = 0; i < N; i++)
        {
            sum += rng.NextPoisson(20);
        }

        // Sample mean sd = sqrt(20 / N) = 0.0316; 4 sd = 0.126.
        Assert.InRange(sum / (double)N, 20 - 0.126, 20 + 0.126);
    }
}
