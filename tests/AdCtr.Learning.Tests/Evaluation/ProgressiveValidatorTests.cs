using AdCtr.Learning.Evaluation;

namespace AdCtr.Learning.Tests.Evaluation;

public class ProgressiveValidatorTests
{
    [Fact]
    public void Add_KeyChanges_ClosesWindowsInOrder()
    {
        var v = new ProgressiveValidator();
        v.Add(0.9, 1, 1, 0);
        v.Add(0.1, 0, 1, 0);
        v.Add(0.2, 1, 1, 1);
        v.Add(0.8, 0, 1, 1);
        v.Add(0.5, 0, 1, 1);
        v.Add(0.5, 1, 1, 2);

        Assert.Equal(2, v.Windows.Count);
        Assert.Equal(2L, v.OpenWindowKey);
        v.CloseWindow();

        Assert.Null(v.OpenWindowKey);
        Assert.Equal([0L, 1L, 2L], [v.Windows[0].Key, v.Windows[1].Key, v.Windows[2].Key]);
        Assert.Equal(2, v.Windows[0].Metrics.Examples);
        Assert.Equal(1.0, v.Windows[0].Metrics.Auc);
        Assert.Equal(3, v.Windows[1].Metrics.Examples);
        Assert.Equal(0.0, v.Windows[1].Metrics.Auc);
        Assert.Equal(1, v.Windows[2].Metrics.Examples);
        Assert.Equal(6, v.Total.Examples);
        Assert.Equal(3.0, v.Total.Clicks);
    }

    [Fact]
    public void Add_KeyReturnsToEarlierValue_OpensNewWindow()
    {
        var v = new ProgressiveValidator();
        v.Add(0.5, 0, 1, 0);
        v.Add(0.5, 0, 1, 1);
        v.Add(0.5, 0, 1, 0);
        v.CloseWindow();

        Assert.Equal(3, v.Windows.Count);
        Assert.Equal(0L, v.Windows[2].Key);
    }

    [Fact]
    public void CloseWindow_NothingOpen_DoesNothing()
    {
        var v = new ProgressiveValidator();
        v.CloseWindow();

        Assert.Empty(v.Windows);
        Assert.Equal(0, v.Total.Examples);
    }

    [Fact]
    public void AddWithTruth_TwoExamples_MatchesHandComputedDistances()
    {
        var v = new ProgressiveValidator();
        v.AddWithTruth(0.3, 0, 1, 7, trueP: 0.1);
        v.AddWithTruth(0.5, 1, 1, 7, trueP: 0.6);
        v.CloseWindow();

        var truth = v.Windows[0].Truth;
        Assert.Equal(2, truth.Examples);
        Assert.Equal(0.15, truth.MeanAbsoluteError, 12);
        Assert.Equal(Math.Sqrt((0.04 + 0.01) / 2), truth.Rmse, 12);
        Assert.Equal(-(Math.Log(0.9) + Math.Log(0.6)) / 2, truth.OracleLogLoss, 12);
        Assert.Equal(truth, v.TotalTruth);
        Assert.Equal(-(Math.Log(0.7) + Math.Log(0.5)) / 2, v.Total.LogLoss, 12);
    }

    [Fact]
    public void AddWithTruth_MixedWithPlainAdds_TruthCoversOnlyTruthExamples()
    {
        var v = new ProgressiveValidator();
        v.Add(0.9, 1, 1, 0);
        v.AddWithTruth(0.2, 0, 2, 0, trueP: 0.25);
        v.CloseWindow();

        Assert.Equal(1, v.Windows[0].Truth.Examples);
        Assert.Equal(0.05, v.Windows[0].Truth.MeanAbsoluteError, 12);
        Assert.Equal(2, v.Windows[0].Metrics.Examples);
    }

    [Fact]
    public void Windows_NoTruth_TruthIsNaN()
    {
        var v = new ProgressiveValidator();
        v.Add(0.9, 1, 1, 0);
        v.CloseWindow();

        Assert.True(double.IsNaN(v.Windows[0].Truth.Rmse));
        Assert.True(double.IsNaN(v.TotalTruth.OracleLogLoss));
    }

    [Theory]
    [InlineData(0, 1000, 0)]
    [InlineData(999, 1000, 0)]
    [InlineData(1000, 1000, 1)]
    [InlineData(2500, 1000, 2)]
    public void WindowBySize_Index_IsIndexOverSize(long index, long size, long expected)
    {
        Assert.Equal(expected, ProgressiveValidator.WindowBySize(index, size));
    }

    [Theory]
    [InlineData(0, 10, 0)]
    [InlineData(9, 10, 0)]
    [InlineData(10, 10, 1)]
    [InlineData(-1, 10, -1)]
    [InlineData(-10, 10, -1)]
    [InlineData(-11, 10, -2)]
    public void WindowByTime_Ticks_IsFloorDivision(long ticks, long bucket, long expected)
    {
        Assert.Equal(expected, ProgressiveValidator.WindowByTime(ticks, bucket));
    }

    [Fact]
    public void WindowByTime_HourBuckets_SameHourSameKey()
    {
        var start = new DateTimeOffset(2026, 1, 1, 10, 0, 0, TimeSpan.Zero);
        var hour = TimeSpan.FromHours(1);

        Assert.Equal(ProgressiveValidator.WindowByTime(start, hour), ProgressiveValidator.WindowByTime(start.AddMinutes(59), hour));
        Assert.Equal(ProgressiveValidator.WindowByTime(start, hour) + 1, ProgressiveValidator.WindowByTime(start.AddMinutes(60), hour));
    }

    [Fact]
    public void AddWithTruth_TruthOutOfRange_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ProgressiveValidator().AddWithTruth(0.5, 1, 1, 0, 1.5));
    }
}
