using AdCtr.Server.Telemetry;

namespace AdCtr.Server.Tests.Telemetry;

public sealed class ProgressiveWindowTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Read_KnownExamples_GivesTheirSumsAndFigures()
    {
        var window = new ProgressiveWindow(60, TimeSpan.FromSeconds(10));
        // Four predictions of 0.25 and one click among them: CTR 0.25, so log loss = H(0.25), NE = 1, calibration = 1.
        window.Add(0.25, 1, 1);
        window.Add(0.25, 0, 1);
        window.Add(0.25, 0, 1);
        window.Add(0.25, 0, 1);
        var f = window.Read(T0);
        var entropy = -((0.25 * Math.Log(0.25)) + (0.75 * Math.Log(0.75)));
        Assert.Equal(4, f.Examples);
        Assert.Equal(4, f.Weight);
        Assert.Equal(1, f.Clicks);
        Assert.Equal(entropy, f.LogLoss, 14);
        Assert.Equal(1, f.NormalizedEntropy, 14);
        Assert.Equal(1, f.CalibrationRatio, 14);
    }

    [Fact]
    public void Read_Weights_ScaleEveryExample()
    {
        var window = new ProgressiveWindow(6, TimeSpan.FromSeconds(10));
        window.Add(0.5, 1, 3);
        window.Add(0.2, 0, 1);
        var f = window.Read(T0);
        Assert.Equal(2, f.Examples);
        Assert.Equal(4, f.Weight);
        Assert.Equal(3, f.Clicks);
        Assert.Equal(((3 * -Math.Log(0.5)) + -Math.Log(0.8)) / 4, f.LogLoss, 14);
        Assert.Equal(((3 * 0.5) + 0.2) / 3, f.CalibrationRatio, 14);
    }

    [Fact]
    public void Read_ExamplesOlderThanTheWindow_AreDropped()
    {
        var window = new ProgressiveWindow(60, TimeSpan.FromSeconds(10));   // 10 minutes
        window.Add(0.1, 0, 1);
        window.Rotate(T0);                                                  // bucket of T0
        window.Add(0.3, 1, 1);
        window.Add(0.3, 0, 1);
        window.Rotate(T0.AddMinutes(5));                                    // bucket of T0 + 5 min

        Assert.Equal(3, window.Read(T0.AddMinutes(9).AddSeconds(59)).Examples);
        var later = window.Read(T0.AddMinutes(10));                         // T0's bucket has left the window
        Assert.Equal(2, later.Examples);
        Assert.Equal(0.3, later.CalibrationRatio / 2, 14);
        Assert.Equal(0, window.Read(T0.AddMinutes(15)).Examples);
        Assert.True(double.IsNaN(window.Read(T0.AddMinutes(15)).LogLoss));
    }

    [Fact]
    public void Read_WithoutClicks_HasNoCalibrationOrNormalizedEntropy()
    {
        var window = new ProgressiveWindow(6, TimeSpan.FromSeconds(10));
        window.Add(0.1, 0, 1);
        var f = window.Read(T0);
        Assert.Equal(-Math.Log(0.9), f.LogLoss, 14);
        Assert.True(double.IsNaN(f.CalibrationRatio));
        Assert.True(double.IsNaN(f.NormalizedEntropy));
    }

    [Fact]
    public async Task Add_FromManyThreadsWhileRotating_LosesNothing()
    {
        var window = new ProgressiveWindow(600, TimeSpan.FromSeconds(1));
        const int Threads = 4, PerThread = 50_000;
        var done = 0;
        var rotator = Task.Run(() =>
        {
            var t = T0;
            while (Volatile.Read(ref done) < Threads)
            {
                window.Rotate(t);
                t = t.AddMilliseconds(1);   // at most 200 s of buckets in any run: all inside the 600 s window
                if (t > T0.AddSeconds(200))
                {
                    t = T0.AddSeconds(200);
                }
            }
        });
        Parallel.For(0, Threads, _ =>
        {
            for (var i = 0; i < PerThread; i++)
            {
                window.Add(0.5, i % 2, 1);
            }

            Interlocked.Increment(ref done);
        });
        await rotator;
        var f = window.Read(T0.AddSeconds(200));
        Assert.Equal(Threads * PerThread, f.Examples);
        Assert.Equal(Threads * PerThread / 2, f.Clicks);
        // 200,000 terms summed in floating point: relative error at most n x epsilon = 2e5 x 1.1e-16 = 2.2e-11.
        Assert.Equal(Math.Log(2), f.LogLoss, 10);
    }
}

public sealed class MetricsOptionsTests
{
    [Theory]
    [InlineData("00:10:00", "00:00:10", true)]
    [InlineData("00:00:10", "00:00:10", true)]
    [InlineData("00:10:00", "00:00:07", false)]   // not a whole number of buckets
    [InlineData("00:00:05", "00:00:10", false)]   // window shorter than a bucket
    [InlineData("00:10:00", "00:00:00", false)]
    [InlineData("2.00:00:00", "00:00:01", false)] // 172,800 buckets
    public void Validate_WindowAndBucket_AcceptsWholeNumbersOfBuckets(string window, string bucket, bool valid)
    {
        var options = new MetricsOptions { ProgressiveWindow = TimeSpan.Parse(window, System.Globalization.CultureInfo.InvariantCulture), ProgressiveBucket = TimeSpan.Parse(bucket, System.Globalization.CultureInfo.InvariantCulture) };
        Assert.Equal(valid, new MetricsOptionsValidator().Validate(null, options).Succeeded);
    }
}
