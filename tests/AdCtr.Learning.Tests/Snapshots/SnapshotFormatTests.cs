using AdCtr.Learning.Features;
using AdCtr.Learning.Ftrl;
using AdCtr.Learning.Models;
using AdCtr.Learning.Snapshots;
using AdCtr.Learning.Tests.Support;

namespace AdCtr.Learning.Tests.Snapshots;

public class SnapshotFormatTests
{
    private static readonly FtrlParameters Global = new(0.1, 1.0, 0.1, 1.0);
    private static readonly FtrlParameters Campaign = new(0.1, 1.0, 0.1, 5.0);

    private static (GlmixModel Model, FeatureSpec Spec) Trained(int examples = 3_000)
    {
        var spec = SyntheticWorld.Spec(withCross: true, withCampaign: true);
        var world = new SyntheticWorld(17);
        var encoder = new FeatureEncoder(spec);
        var row = new RawRow(spec.Fields.Length);
        var x = new EncodedExample();
        var model = new GlmixModel(spec.Bits, Global, Campaign);
        for (var i = 0; i < examples; i++)
        {
            world.Next(row);
            encoder.Encode(row, x);
            model.Learn(x, row.Label);
        }

        return (model, spec);
    }

    private static byte[] Bytes(ModelSnapshot snapshot)
    {
        using var stream = new MemoryStream();
        SnapshotFormat.Write(stream, snapshot);
        return stream.ToArray();
    }

    [Fact]
    public void RoundTrip_TrainedModel_IsBitExact()
    {
        var (model, spec) = Trained();
        var snapshot = model.ToSnapshot(spec, logPosition: 1234, version: 7, createdUnixMs: 99);
        snapshot = new ModelSnapshot
        {
            HashSeed = snapshot.HashSeed,
            SpecFingerprint = snapshot.SpecFingerprint,
            LogPosition = snapshot.LogPosition,
            Version = snapshot.Version,
            CreatedUnixMs = snapshot.CreatedUnixMs,
            Global = snapshot.Global,
            Campaigns = snapshot.Campaigns,
            Extensions = new Dictionary<string, byte[]> { ["calibrator"] = [1, 2, 3] },
        };
        var bytes = Bytes(snapshot);
        var read = SnapshotFormat.Read(bytes, spec);

        Assert.Equal(1234, read.LogPosition);
        Assert.Equal(7, read.Version);
        Assert.Equal(99, read.CreatedUnixMs);
        Assert.Equal(new byte[] { 1, 2, 3 }, read.Extensions["calibrator"]);
        var restored = read.ToModel(Campaign);
        for (var i = 0; i < model.Global.Dimension; i++)
        {
            model.Global.TryGetState(i, out var z, out var n);
            restored.Global.TryGetState(i, out var z2, out var n2);
            Assert.Equal(BitConverter.SingleToInt32Bits(z), BitConverter.SingleToInt32Bits(z2));
            Assert.Equal(BitConverter.SingleToInt32Bits(n), BitConverter.SingleToInt32Bits(n2));
        }

        Assert.Equal(model.Campaigns.Count, restored.Campaigns.Count);
        foreach (var (key, campaign) in model.Campaigns)
        {
            var other = restored.CampaignOf(key)!;
            Assert.Equal(campaign.Coordinates, other.Coordinates);
            var pairs = new List<(int, float, float)>();
            campaign.ForEach(ref pairs, static (ref List<(int, float, float)> list, int i, float z, float n) => list.Add((i, z, n)));
            foreach (var (i, z, n) in pairs)
            {
                Assert.True(other.TryGetState(i, out var z2, out var n2));
                Assert.Equal(z, z2);
                Assert.Equal(n, n2);
            }
        }

        // Writing the restored model gives the same bytes (campaign order aside, which is the dictionary's).
        Assert.Equal(bytes.Length, Bytes(read).Length);
    }

    [Fact]
    public void Read_EveryTruncation_IsRejected()
    {
        var (model, spec) = Trained(300);
        var bytes = Bytes(model.ToSnapshot(spec));
        // Every prefix, stepping through the header byte by byte and the body in strides.
        for (var length = 0; length < bytes.Length; length += length < 200 ? 1 : 97)
        {
            Assert.Throws<SnapshotFormatException>(() => SnapshotFormat.Read(bytes.AsSpan(0, length).ToArray(), spec));
        }
    }

    [Fact]
    public void Read_AnyFlippedByte_IsRejected()
    {
        var (model, spec) = Trained(300);
        var bytes = Bytes(model.ToSnapshot(spec));
        for (var i = 0; i < bytes.Length; i += 13)
        {
            var damaged = (byte[])bytes.Clone();
            damaged[i] ^= 0x40;
            Assert.Throws<SnapshotFormatException>(() => SnapshotFormat.Read(damaged, spec));
        }
    }

    [Fact]
    public void Read_OtherSpec_IsRejectedWithClearMessage()
    {
        var (model, spec) = Trained(300);
        var bytes = Bytes(model.ToSnapshot(spec));
        var e = Assert.Throws<SnapshotFormatException>(() => SnapshotFormat.Read(bytes, spec.WithoutCrosses()));
        Assert.Contains("another feature spec", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_NotASnapshot_IsRejected()
    {
        var spec = SyntheticWorld.Spec(withCross: true, withCampaign: true);
        Assert.Contains("truncated", Assert.Throws<SnapshotFormatException>(() => SnapshotFormat.Read([], spec)).Message, StringComparison.Ordinal);
        var e = Assert.Throws<SnapshotFormatException>(() => SnapshotFormat.Read(new byte[64], spec));
        Assert.Contains("bad magic", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_FutureVersion_IsRejected()
    {
        var (model, spec) = Trained(100);
        var bytes = Bytes(model.ToSnapshot(spec));
        bytes[8] = 2;
        var e = Assert.Throws<SnapshotFormatException>(() => SnapshotFormat.Read(bytes, spec));
        Assert.Contains("version 2", e.Message, StringComparison.Ordinal);
    }
}
