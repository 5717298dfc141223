using AdCtr.Learning.Memory;

namespace AdCtr.Learning.Tests.Memory;

public class LargeArraysTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1000)]                    // small: an ordinary array
    [InlineData((int)(LargeArrays.MinBytes / sizeof(long)) + 12345)] // large: pinned, interior advised to huge pages
    public void Allocate_AnyLength_UsableArrayOfThatLength(int length)
    {
        var array = LargeArrays.Allocate<long>(length);
        Assert.Equal(length, array.Length);
        for (var i = 0; i < length; i += 511)
        {
            array[i] = i;
        }

        for (var i = 0; i < length; i += 511)
        {
            Assert.Equal(i, array[i]);
        }
    }
}
