import Crypto
public enum SIPAuthPlaceholder {}
