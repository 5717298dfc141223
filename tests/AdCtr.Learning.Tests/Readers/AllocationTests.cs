using System.Text;
using AdCtr.Learning.Features;
using AdCtr.Learning.Readers;
using static AdCtr.Learning.Tests.Readers.ReaderFixtures;

namespace AdCtr.Learning.Tests.Readers;

public class AllocationTests
{
    /// <summary>
    /// Any per-row allocation over 10,000 rows is at least 10,000 x 24 bytes (the smallest object) = 240,000
    /// bytes. The runtime may allocate a few KB on this thread meanwhile, once (tiered JIT call counting), so
    /// the bound is 32 KiB: far under what even one allocation per 4 rows would cost.
    /// </summary>
    private const long Bound = 32 * 1024;

    /// <summary>
    /// Reads 1,000 rows to warm up (buffers at their working size, first-call costs paid), then 10,000 more and
    /// returns the bytes this thread allocated meanwhile.
    /// </summary>
    private static long AllocatedWhileReading(LogFormat format, FeatureSpec spec, string header, Func<int, string> line, string? damage)
    {
        var text = new StringBuilder(header);
        for (var i = 0; i < 11_000; i++)
        {
            text.Append(line(i)).Append('\n');
            if (i % 100 == 0)
            {
                text.Append(i % 200 == 0 && damage is not null ? damage + "\n" : "\n");
            }
        }

        using var reader = ExampleReaders.Open(Utf8(text.ToString()), format, spec, new ReaderOptions { BufferBytes = 4096, MaxReportedMalformed = 5 });
        var row = new RawRow(spec.Fields.Length);
        for (var i = 0; i < 1_000; i++)
        {
            Assert.True(reader.TryRead(row));
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            Assert.True(reader.TryRead(row));
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.False(reader.TryRead(row));

        // Every 100th row is followed by an empty line, or by a damaged one every 200th: 110 extra lines.
        Assert.Equal(damage is null ? 0 : 55, reader.Statistics.MalformedLines);
        Assert.Equal(damage is null ? 110 : 55, reader.Statistics.EmptyLines);
        return allocated;
    }

    private static string AvazuLine(int i) =>
        i + "," + (i % 5 == 0 ? 1 : 0) + ",141021" + (i / 500 % 24).ToString("00") + ",100" + (i % 3) + ",s" + (i % 77) + ",ip" + i;

    private static string JsonLine(int i) =>
        "{\"timestamp\":\"2026-01-05T13:04:05.123Z\",\"label\":" + (i % 4 == 0 ? 1 : 0) + ",\"weight\":1.5,\"campaignId\":\"c" + (i % 9)
        + "\",\"adId\":\"a\\u0041" + i + "\",\"context\":{\"user_age\":\"25-34\",\"price\":" + (i % 50) + ".5,\"is_mobile\":true,\"other\":[1]},\"trueCtr\":0.02}";

    private const string AvazuHeader = "id,click,hour,C1,site_id,device_ip\n";

    private static readonly FeatureSpec AvazuSpec = Spec("site_id", "hour_of_day", "weekday", "C1", "device_ip");

    private static readonly FeatureSpec JsonSpec = Spec("campaignId", "adId", "user_age", "price", "is_mobile");

    [Fact]
    public void Criteo_GoodRows_AllocateNothing() =>
        Assert.InRange(AllocatedWhileReading(LogFormat.Criteo, CriteoSpec(), "", CriteoLine, null), 0, Bound);

    [Fact]
    public void Criteo_DamagedLinesPastTheReportedOnes_AllocateNothing() =>
        Assert.InRange(AllocatedWhileReading(LogFormat.Criteo, CriteoSpec(), "", CriteoLine, "damaged line"), 0, Bound);

    [Fact]
    public void Avazu_GoodRows_AllocateNothing() =>
        Assert.InRange(AllocatedWhileReading(LogFormat.Avazu, AvazuSpec, AvazuHeader, AvazuLine, null), 0, Bound);

    [Fact]
    public void Avazu_DamagedLinesPastTheReportedOnes_AllocateNothing() =>
        Assert.InRange(AllocatedWhileReading(LogFormat.Avazu, AvazuSpec, AvazuHeader, AvazuLine, "1,2,14102100,1,2,3"), 0, Bound);

    [Fact]
    public void AdCtrJson_GoodRows_AllocateNothing() =>
        Assert.InRange(AllocatedWhileReading(LogFormat.AdCtrJson, JsonSpec, "", JsonLine, null), 0, Bound);

    [Fact]
    public void AdCtrJson_ValidJsonDamagePastTheReportedOnes_AllocatesNothing() =>
        // Invalid JSON costs the JsonException Utf8JsonReader throws; damage in valid JSON costs nothing.
        Assert.InRange(AllocatedWhileReading(LogFormat.AdCtrJson, JsonSpec, "", JsonLine, "{\"label\":1,\"weight\":-1}"), 0, Bound);
}
