using System.Text;
using AdCtr.Learning.Features;
using AdCtr.Learning.Hashing;

using AdCtr.Learning.Tests.Support;

namespace AdCtr.Learning.Tests.Features;

public class FeatureEncoderTests
{
    private const string SpecJson = """
        {
          "name": "t", "hashSeed": 7, "bits": 18, "campaignField": "campaignId",
          "fields": [
            { "name": "campaignId" },
            { "name": "age", "models": "both" },
            { "name": "cat" },
            { "name": "clicks", "kind": "count" },
            { "name": "price", "kind": "numeric", "transform": "log1p", "models": "campaign" }
          ],
          "crosses": [ { "fields": ["age", "cat"] }, { "fields": ["age", "cat", "campaignId"], "models": "campaign" } ]
        }
        """;

    private static uint H(string token) => MurmurHash3.Hash32(Encoding.UTF8.GetBytes(token), 7);

    private static int Idx(uint h) => (int)(h & ((1u << 18) - 1));

    private static RawRow Row(FeatureSpec spec, params (string Field, string Value)[] values)
    {
        var row = new RawRow(spec.Fields.Length);
        foreach (var (field, value) in values)
        {
            row.Set(spec.IndexOf(field), value.AsSpan());
        }

        return row;
    }

    [Fact]
    public void Encode_AllFieldsPresent_HashesFieldEqualsValueIntoSlots()
    {
        var spec = FeatureSpec.Parse(SpecJson);
        var encoder = new FeatureEncoder(spec);
        var x = new EncodedExample();
        encoder.Encode(Row(spec, ("campaignId", "c1"), ("age", "25-34"), ("cat", "shoes"), ("clicks", "100"), ("price", "9")), x);

        var bias = Idx(H("__bias__"));
        var hAge = H("age=25-34");
        var hCat = H("cat=shoes");
        var hCampaign = H("campaignId=c1");
        var cross = MurmurHash3.Hash32(hAge, hCat, 7);
        var cross3 = MurmurHash3.Hash32(cross, hCampaign, 7);

        // Global: bias, campaignId, age, cat, clicks (bucket floor(ln(100)^2) = 21), cross age x cat.
        Assert.Equal(new[] { bias, Idx(hCampaign), Idx(hAge), Idx(hCat), Idx(H("clicks=#21")), Idx(cross) }, x.Global.Indices.ToArray());
        Assert.All(x.Global.Values.ToArray(), v => Assert.Equal(1f, v));

        // Campaign: age, price (one coordinate "price=" with value ln(10)), the 3-way cross, the campaign bias.
        Assert.Equal(new[] { Idx(hAge), Idx(H("price=")), Idx(cross3), bias }, x.Campaign.Indices.ToArray());
        Assert.Equal((float)Math.Log(10), x.Campaign.Values[1], 6);
        Assert.True(x.HasCampaign);
        Assert.Equal(FeatureEncoder.CampaignKeyOf("c1"u8), x.CampaignKey);
    }

    [Fact]
    public void Encode_MissingField_SkipsItAndEveryCrossNamingIt()
    {
        var spec = FeatureSpec.Parse(SpecJson);
        var encoder = new FeatureEncoder(spec);
        var x = new EncodedExample();
        encoder.Encode(Row(spec, ("age", "25-34")), x);

        Assert.Equal(new[] { Idx(H("__bias__")), Idx(H("age=25-34")) }, x.Global.Indices.ToArray());
        Assert.Equal(new[] { Idx(H("age=25-34")) }, x.Campaign.Indices.ToArray());
        Assert.False(x.HasCampaign);
    }

    [Theory]
    [InlineData(-1L, -1L)]
    [InlineData(0L, 0L)]
    [InlineData(2L, 2L)]
    [InlineData(3L, 1L)] // ln(3)^2 = 1.207
    [InlineData(10L, 5L)] // ln(10)^2 = 5.30
    [InlineData(1000L, 47L)] // ln(1000)^2 = 47.7
    public void CountBucket_Value_FollowsLogSquaredRule(long x, long expected)
    {
        Assert.Equal(expected, FeatureEncoder.CountBucket(x));
    }

    [Fact]
    public void Encode_CountThatIsNotAnInteger_IsHashedAsCategorical()
    {
        var spec = FeatureSpec.Parse(SpecJson);
        var x = new EncodedExample();
        new FeatureEncoder(spec).Encode(Row(spec, ("clicks", "n/a")), x);
        Assert.Equal(Idx(H("clicks=n/a")), x.Global.Indices[1]);
    }

    [Fact]
    public void Encode_ManyRowsAfterWarmUp_AllocatesNothing()
    {
        var spec = FeatureSpec.Parse(SpecJson);
        var encoder = new FeatureEncoder(spec);
        var row = Row(spec, ("campaignId", "c1"), ("age", "25-34"), ("cat", "shoes"), ("clicks", "100"), ("price", "9"));
        var x = new EncodedExample();
        encoder.Encode(row, x);
        var allocated = Allocations.Fewest(3, () =>
        {
            for (var i = 0; i < 1000; i++)
            {
                encoder.Encode(row, x);
            }
        });

        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Describe_Row_NamesEveryEncodedFeature()
    {
        var spec = FeatureSpec.Parse(SpecJson);
        var encoder = new FeatureEncoder(spec);
        var row = Row(spec, ("campaignId", "c1"), ("age", "25-34"), ("cat", "shoes"));
        var x = new EncodedExample();
        encoder.Encode(row, x);
        var named = encoder.Describe(row);

        var global = named.Where(f => f.Part == ModelPart.Global).Select(f => f.Index).ToArray();
        var campaign = named.Where(f => f.Part == ModelPart.Campaign).Select(f => f.Index).ToArray();
        Assert.Equal(x.Global.Indices.ToArray(), global);
        Assert.Equal(x.Campaign.Indices.ToArray(), campaign);
        Assert.Contains(named, f => f.Name == "age=25-34 x cat=shoes");
    }

    [Theory]
    [InlineData("""{"bits": 12, "fields": [{"name": "a"}]}""", "bits must be in 18..28")]
    [InlineData("""{"fields": []}""", "no fields")]
    [InlineData("""{"fields": [{"name": "a"}, {"name": "a"}]}""", "declared twice")]
    [InlineData("""{"fields": [{"name": "a"}], "crosses": [{"fields": ["a", "b"]}]}""", "unknown field 'b'")]
    [InlineData("""{"fields": [{"name": "a"}], "crosses": [{"fields": ["a"]}]}""", "two or three fields")]
    [InlineData("""{"fields": [{"name": "a"}], "campaignField": "z"}""", "campaignField 'z'")]
    [InlineData("""{"fields": [{"name": "a", "kind": "weird"}]}""", "invalid feature spec JSON")]
    [InlineData("""{"fields": [{"name": "a"}], "colour": 1}""", "invalid feature spec JSON")]
    public void Parse_InvalidSpec_ThrowsNamingTheProblem(string json, string expected)
    {
        var e = Assert.Throws<FeatureSpecException>(() => FeatureSpec.Parse(json));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Fingerprint_SpecsThatMapDifferently_Differ()
    {
        var spec = FeatureSpec.Parse(SpecJson);
        Assert.Equal(spec.Fingerprint(), FeatureSpec.Parse(SpecJson).Fingerprint());
        Assert.NotEqual(spec.Fingerprint(), spec.WithoutCrosses().Fingerprint());
        Assert.NotEqual(spec.Fingerprint(), spec.WithBits(20).Fingerprint());
    }

    [Theory]
    [InlineData("features.criteo.json", 39)]
    [InlineData("features.avazu.json", 22)]
    [InlineData("features.sim.json", 13)]
    public void Load_ShippedSpec_IsValid(string file, int fields)
    {
        var spec = FeatureSpec.Load(Path.Combine(RepoPaths.Config, file));
        Assert.Equal(fields, spec.Fields.Length);
    }

    /// <summary>The count hashing before the bucket cache and the inline parser: Utf8Parser, CountBucket, hash of the copied token.</summary>
    private static uint ReferenceCountHash(string field, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        var token = System.Buffers.Text.Utf8Parser.TryParse(bytes, out long x, out var consumed) && consumed == bytes.Length
            ? "#" + FeatureEncoder.CountBucket(x).ToString(System.Globalization.CultureInfo.InvariantCulture)
            : value;
        return H(field + "=" + token);
    }

    public static TheoryData<string> OddCounts => new()
    {
        "0", "-0", "007", "1", "2", "3", "-1", "-2", "-17", "4095", "4096", "4097", "999999999999999999", "-999999999999999999",
        "1000000000000000000", "9223372036854775807", "-9223372036854775808", "9223372036854775808", "99999999999999999999",
        "+5", "-", "--1", "1-", " 1", "1 ", "1e5", "0x10", "abc", "12a", "\u0661", "",
    };

    [Theory]
    [MemberData(nameof(OddCounts))]
    public void Encode_CountValue_HashesAsBeforeTheBucketCache(string value)
    {
        var spec = FeatureSpec.Parse(SpecJson);
        var encoder = new FeatureEncoder(spec);
        var x = new EncodedExample();
        // Twice: the first call fills the bucket cache, the second reads it.
        for (var pass = 0; pass < 2; pass++)
        {
            encoder.Encode(Row(spec, ("clicks", value)), x);
            Assert.Equal(new[] { Idx(H("__bias__")), Idx(ReferenceCountHash("clicks", value)) }, x.Global.Indices.ToArray());
        }
    }

    [Fact]
    public void Encode_EveryCountFromMinus100To20000AndRandomLongs_HashesAsBeforeTheBucketCache()
    {
        var spec = FeatureSpec.Parse(SpecJson);
        var encoder = new FeatureEncoder(spec);
        var x = new EncodedExample();
        var rng = new Random(5);
        var values = Enumerable.Range(-100, 20101).Select(v => (long)v)
            .Concat(Enumerable.Range(0, 2000).Select(_ => rng.NextInt64(long.MinValue, long.MaxValue) >> rng.Next(0, 63)));
        foreach (var v in values)
        {
            var text = v.ToString(System.Globalization.CultureInfo.InvariantCulture);
            encoder.Encode(Row(spec, ("clicks", text)), x);
            Assert.Equal(Idx(ReferenceCountHash("clicks", text)), x.Global.Indices[1]);
        }
    }

    [Fact]
    public void Encode_CategoricalValuesOfEveryLength_HashFieldEqualsValueAsBefore()
    {
        // The prefix-state hash against the hash of the concatenated token, for values of 0..40 bytes ("cat=" is
        // 4 bytes, "age=" too; "campaignId=" is 11, leaving 3 carried bytes).
        var spec = FeatureSpec.Parse(SpecJson);
        var encoder = new FeatureEncoder(spec);
        var x = new EncodedExample();
        for (var length = 0; length <= 40; length++)
        {
            var value = new string('a', length / 2) + new string('Z', length - (length / 2));
            encoder.Encode(Row(spec, ("cat", value), ("campaignId", value)), x);
            Assert.Equal(new[] { Idx(H("__bias__")), Idx(H("campaignId=" + value)), Idx(H("cat=" + value)) }, x.Global.Indices.ToArray());
        }
    }
}
