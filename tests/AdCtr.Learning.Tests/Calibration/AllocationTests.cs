using AdCtr.Learning.Calibration;
using AdCtr.Learning.Tests.Support;

namespace AdCtr.Learning.Tests.Calibration;

/// <summary>
/// Allocation budget of the per-prediction calls, checked without BenchmarkDotNet: the bytes allocated on
/// this thread across many calls must be exactly 0 (after a warm-up call, so JIT tiering is not counted).
/// </summary>
public class AllocationTests
{
    [Fact]
    public void Calibrate_IsotonicAndPlatt_AllocateNothing()
    {
        var isotonic = IsotonicCalibrator.Fit([0.3, 0.1, 0.4, 0.2, 0.8], [0, 0, 1, 1, 1]);
        var platt = new PlattCalibrator(0.8, -0.2);
        ICalibrator viaInterface = isotonic;
        double sink = isotonic.Calibrate(0.5) + platt.Calibrate(0.5) + viaInterface.Calibrate(0.5);

        var allocated = Allocations.Fewest(3, () =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                var p = i / 10_000.0;
                sink += isotonic.Calibrate(p) + platt.Calibrate(p) + viaInterface.Calibrate(p);
            }
        });

        Assert.Equal(0, allocated);
        Assert.True(double.IsFinite(sink));
    }
}
