using System.ComponentModel;
using System.Globalization;

namespace Presence.Internal;

/// <summary>
/// Converts text to an identifier value type and back, so configuration binding (<c>"ServerName": "example.org"</c>)
/// and other <see cref="TypeDescriptor"/> users parse it with the identifier's own grammar.
/// </summary>
/// <typeparam name="T">The identifier type.</typeparam>
internal abstract class IdentifierConverter<T> : TypeConverter
    where T : struct
{
    public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType)
        => sourceType == typeof(string) || base.CanConvertFrom(context, sourceType);

    public override bool CanConvertTo(ITypeDescriptorContext? context, Type? destinationType)
        => destinationType == typeof(string) || base.CanConvertTo(context, destinationType);

    public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value)
    {
        if (value is not string text)
        {
            return base.ConvertFrom(context, culture, value);
        }

        return TryParse(text, out var parsed, out var error)
            ? parsed
            : throw new FormatException($"'{text}' is not a valid {What}: {error}");
    }

    public override object? ConvertTo(ITypeDescriptorContext? context, CultureInfo? culture, object? value, Type destinationType)
        => destinationType == typeof(string) && value is T identifier ? TextOf(identifier) : base.ConvertTo(context, culture, value, destinationType);

    /// <summary>Gets what the identifier is called in an error message.</summary>
    protected abstract string What { get; }

    protected abstract bool TryParse(string text, out T value, out string? error);

    protected abstract string TextOf(T value);
}

/// <summary>Converts text to a <see cref="ServerName"/> and back, with the grammar <see cref="ServerName.Parse"/> applies.</summary>
internal sealed class ServerNameConverter : IdentifierConverter<ServerName>
{
    protected override string What => "server name";

    protected override bool TryParse(string text, out ServerName value, out string? error) => ServerName.TryParse(text, out value, out error);

    protected override string TextOf(ServerName value) => value.Value;
}

/// <summary>Converts text to a <see cref="UserId"/> and back, with the grammar <see cref="UserId.Parse"/> applies.</summary>
internal sealed class UserIdConverter : IdentifierConverter<UserId>
{
    protected override string What => "user ID";

    protected override bool TryParse(string text, out UserId value, out string? error) => UserId.TryParse(text, out value, out error);

    protected override string TextOf(UserId value) => value.Value;
}
