import 'package:flutter/material.dart';

void main() => runApp(const LedgerApp());

class LedgerApp extends StatelessWidget {
  const LedgerApp({super.key});

  @override
  Widget build(BuildContext context) {
    return const MaterialApp(
      title: 'Ledger',
      home: Scaffold(body: Center(child: Text('Ledger'))),
    );
  }
}
