using System.Text;
using AdCtr.Server.Storage;
using Microsoft.Extensions.Configuration;

namespace AdCtr.Server.Tests.Storage;

public sealed class StorageOptionsTests
{
    [Fact]
    public void Validate_Defaults_NoErrors()
    {
        Assert.Empty(StorageOptions.Validate(new StorageOptions()));
    }

    [Fact]
    public void Validate_EachSettingOutOfRange_OneErrorNamingIt()
    {
        var cases = new (Action<StorageOptions> Break, string Key)[]
        {
            (o => o.Path = " ", "Path"),
            (o => o.FsyncPolicy = (FsyncPolicy)7, "FsyncPolicy"),
            (o => o.FsyncIntervalMs = 0, "FsyncIntervalMs"),
            (o => o.SegmentBytes = 1023, "SegmentBytes"),
            (o => o.RetainBytes = 0, "RetainBytes"),
            (o => o.RetainHours = double.NaN, "RetainHours"),
            (o => o.SnapshotsToKeep = 0, "SnapshotsToKeep"),
        };
        foreach (var (breakIt, key) in cases)
        {
            var options = new StorageOptions();
            breakIt(options);
            var error = Assert.Single(StorageOptions.Validate(options));
            Assert.StartsWith("AdCtr:Storage:" + key + " ", error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Bind_LowercasePolicyAndSizes_BindsSection()
    {
        const string Json = """{"AdCtr":{"Storage":{"Path":"/tmp/x","FsyncPolicy":"always","SegmentBytes":4096,"RetainHours":48,"SnapshotsToKeep":5}}}""";
        var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(Json))).Build();
        var options = new StorageOptions();
        configuration.GetSection(StorageOptions.SectionName).Bind(options);
        Assert.Equal("/tmp/x", options.Path);
        Assert.Equal(FsyncPolicy.Always, options.FsyncPolicy);
        Assert.Equal(4096, options.SegmentBytes);
        Assert.Equal(48, options.RetainHours);
        Assert.Null(options.RetainBytes);
        Assert.Equal(5, options.SnapshotsToKeep);
        Assert.Equal(50, options.FsyncIntervalMs);
        Assert.Equal(Path.Combine("/tmp/x", "log"), options.LogDirectory);
    }

    [Fact]
    public void StorageOptionsValidator_InvalidOptions_Fails()
    {
        var result = new StorageOptionsValidator().Validate(null, new StorageOptions { SnapshotsToKeep = 0 });
        Assert.True(result.Failed);
    }
}
